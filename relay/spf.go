package relay

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-smtp"

	"dkimrelay/relay/config"
	"dkimrelay/resolver"
)

// spfChecker evaluates, before a message is accepted, whether the relay's
// egress addresses pass the MAIL FROM domain's SPF policy (RFC 7208
// section 4), so that mail the receiver would reject is refused while the
// application can still report it.
type spfChecker struct {
	policy   string // "reject", "warn" or "off"
	hostname string
	ips      []net.IP
	res      *resolver.Resolver
	log      *slog.Logger
}

func newSPFChecker(cfg *config.Config, res *resolver.Resolver, log *slog.Logger) (*spfChecker, error) {
	c := &spfChecker{policy: cfg.Delivery.SPFPolicy, hostname: cfg.Hostname, res: res, log: log}
	if c.policy == "off" {
		return c, nil
	}
	for _, s := range cfg.Delivery.EgressIPs {
		c.ips = append(c.ips, net.ParseIP(s))
	}
	if len(c.ips) == 0 && cfg.Delivery.Mode == "smarthost" {
		// The smarthost's addresses are what receivers see, and its SPF
		// is the upstream provider's affair.
		log.Info("spf", "detail", "smarthost mode without delivery.egress_ips: SPF is not checked")
		return c, nil
	}
	if len(c.ips) == 0 {
		c.ips = detectEgress()
		if len(c.ips) == 0 {
			log.Warn("spf", "detail", "no route to the outside found and delivery.egress_ips is empty: SPF is not checked; set delivery.egress_ips")
		}
	}
	ips := make([]string, len(c.ips))
	for i, ip := range c.ips {
		ips[i] = ip.String()
	}
	log.Info("egress", "ips", ips, "spf_policy", c.policy)
	return c, nil
}

// detectEgress asks the kernel which local address it would use toward the
// outside, for IPv4 and IPv6. Connecting a UDP socket only consults the
// routing table; no packet is sent.
func detectEgress() []net.IP {
	var ips []net.IP
	for _, probe := range []string{"192.0.2.1:25", "[2001:db8::1]:25"} {
		c, err := net.Dial("udp", probe)
		if err != nil {
			continue
		}
		if a, ok := c.LocalAddr().(*net.UDPAddr); ok && !a.IP.IsLoopback() {
			ips = append(ips, a.IP)
		}
		c.Close()
	}
	return ips
}

func (c *spfChecker) check(ctx context.Context, from string) error {
	if c.policy == "off" || len(c.ips) == 0 {
		return nil
	}
	domain := from[strings.LastIndexByte(from, '@')+1:]
	for _, ip := range c.ips {
		res, err := spf.CheckHostWithSender(ip, c.hostname, from, spf.WithResolver(c.res), spf.WithContext(ctx))
		detail := ""
		if err != nil {
			detail = err.Error()
		}
		c.log.Info("spf", "domain", domain, "ip", ip.String(), "result", string(res), "detail", detail)
		if c.policy != "reject" {
			continue
		}
		switch res {
		case spf.Fail, spf.SoftFail:
			mech := "ip4:" + ip.String()
			if ip.To4() == nil {
				mech = "ip6:" + ip.String()
			}
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: fmt.Sprintf(
				"SPF %s: %s is not authorized to send for %s; add %q to the SPF record of %s", res, ip, domain, mech, domain)}
		case spf.TempError:
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 3}, Message: fmt.Sprintf(
				"SPF check of %s failed temporarily (%s), try again later", domain, detail)}
		case spf.PermError:
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: fmt.Sprintf(
				"SPF record of %s is broken (%s): fix it, `dkimrelay check --domain %s` shows how", domain, detail, domain)}
		}
	}
	return nil
}
