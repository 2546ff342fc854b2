package dnscheck

import (
	"bufio"
	"context"
	"dkimrelay/config"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// checkMX checks that the domain receives mail: bounces of the relay's
// messages go back to the MAIL FROM address in it.
func checkMX(ctx context.Context, r *Report, o Options) {
	res := Result{Check: "mx", Required: true}
	mxs, err := o.Resolver.LookupMX(ctx, o.Domain)
	if err != nil {
		p, notFound := lookupProblem(err)
		switch {
		case !notFound:
			res.Status, res.Message = Fail, p
		default:
			if _, aerr := o.Resolver.LookupIPAddr(ctx, o.Domain); aerr == nil {
				// RFC 5321 section 5.1: without MX, the address
				// record is the implicit MX.
				res.Status = Warning
				res.Message = fmt.Sprintf("%s has no MX record, so bounces go to the host at its address record (RFC 5321 section 5.1); publish an MX naming the server that receives mail for %s", o.Domain, o.Domain)
			} else {
				res.Status = Fail
				res.Message = fmt.Sprintf("%s has no MX or address record, so bounces and replies to its mail cannot be delivered, and receivers may refuse mail from it; publish an MX naming the server that receives mail for %s", o.Domain, o.Domain)
			}
		}
		r.add(res)
		return
	}
	if len(mxs) == 1 && mxs[0].Host == "." {
		res.Status = Fail
		res.Message = fmt.Sprintf("%s publishes a null MX (RFC 7505): it receives no mail, so bounces cannot come back and receivers may refuse mail from it (RFC 7505 section 4.2); publish an MX naming the server that receives mail for %s", o.Domain, o.Domain)
		r.add(res)
		return
	}
	hosts := make([]string, len(mxs))
	for i, mx := range mxs {
		hosts[i] = fmt.Sprintf("%s (%d)", strings.TrimSuffix(mx.Host, "."), mx.Pref)
	}
	res.Status = Pass
	res.Message = fmt.Sprintf("%s receives mail at %s, so bounces come back", o.Domain, strings.Join(hosts, ", "))
	r.add(res)
}

// smarthostAdvice is what to do when port 25 is blocked.
const smarthostAdvice = `many hosting providers block outbound port 25; ask yours to open it, or send through a smarthost (your provider's or a mail service's) by setting in [delivery]: mode = "smarthost", smarthost = "smtp.provider.example:587", smarthost_user = "USER", smarthost_password_file = "/etc/dkimrelay/smarthost.pass"`

// checkPort25 connects to an MX of the probe domain and waits for its 220
// greeting: the relay delivers that way in mx mode, and a provider that
// blocks port 25 makes every message wait until it expires.
func checkPort25(ctx context.Context, r *Report, o Options) {
	switch {
	case o.Mode == config.ModeSmarthost:
		r.add(Result{Check: "port25", Status: Info, Message: "smarthost mode: the relay does not connect to recipients' servers itself"})
		return
	case o.Probe == nil:
		r.add(Result{Check: "port25", Status: Info, Message: "not tested (--no-probe)"})
		return
	}
	p := o.Probe
	res := Result{Check: "port25", Required: true}
	mxs, err := o.Resolver.LookupMX(ctx, p.Domain)
	if err == nil && len(mxs) > 0 && mxs[0].Host == "." {
		err = errors.New("null MX")
	}
	if err != nil || len(mxs) == 0 {
		res.Status, res.Required = Warning, false
		res.Message = fmt.Sprintf("could not find an MX of %s to test outbound port 25 with; name another domain with --probe-domain", p.Domain)
		r.add(res)
		return
	}
	host := strings.TrimSuffix(mxs[0].Host, ".")
	// The relay's resolver, not the system's: dns.servers is honoured.
	addrs, err := o.Resolver.LookupIPAddr(ctx, host)
	if err == nil {
		err = errors.New("no address")
		for _, a := range addrs {
			if err = p.greet(ctx, a.IP); err == nil {
				break
			}
		}
	} else {
		err = describeNetError(err)
	}
	if err == nil {
		res.Status = Pass
		res.Message = fmt.Sprintf("outbound SMTP gets through: %s, an MX of %s, answered", host, p.Domain)
	} else {
		res.Status = Fail
		res.Message = fmt.Sprintf("outbound SMTP to %s, an MX of %s, failed (%v): %s", host, p.Domain, err, smarthostAdvice)
	}
	r.add(res)
}

// greet connects to ip and reads its greeting; the error says in a few
// words what went wrong, without addresses.
func (p *Probe) greet(ctx context.Context, ip net.IP) error {
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dial := p.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	conn, err := dial(ctx, "tcp", net.JoinHostPort(ip.String(), strconv.Itoa(p.Port)))
	if err != nil {
		return describeNetError(err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return describeNetError(err)
	}
	if !strings.HasPrefix(line, "220") {
		return fmt.Errorf("it greeted with %q instead of 220", strings.TrimSpace(line))
	}
	return nil
}

func describeNetError(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return errors.New("connection refused")
	case errors.Is(err, syscall.ECONNRESET):
		return errors.New("connection reset")
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return errors.New("no route to it")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return errors.New("timed out")
	case errors.Is(err, net.ErrClosed), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF):
		return errors.New("connection closed before the greeting")
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		return fmt.Errorf("looking it up failed: %s", de.Err)
	}
	return errors.New("connection failed")
}
