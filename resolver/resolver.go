// Package resolver is the one DNS stub resolver of dkimrelay: MX for
// delivery, TXT for SPF, DKIM and DMARC, A/AAAA and PTR for the self-checks.
//
// It talks to the servers named in the configuration (dns.servers), or to
// the nameservers of /etc/resolv.conf, always through github.com/miekg/dns,
// so that NXDOMAIN, NODATA and SERVFAIL mean the same thing whichever is
// used. Its methods have the signatures of net.Resolver's so a *Resolver can
// be handed to SPF and DKIM/DMARC libraries unchanged.
//
// Errors are *net.DNSError: IsNotFound for NXDOMAIN and NODATA (final
// answers), IsTemporary/IsTimeout for SERVFAIL, REFUSED, timeouts and network
// errors (retry later).
package resolver

import (
	"context"
	"dkimrelay/config"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Defaults for Options.
const (
	DefaultTimeout  = 5 * time.Second
	DefaultAttempts = 2
	// ednsBufferSize is the EDNS0 UDP payload size recommended by DNS Flag
	// Day 2020: large enough for most answers, small enough to avoid IP
	// fragmentation. Larger answers come back truncated and are retried
	// over TCP (RFC 7766).
	ednsBufferSize = 1232
	// maxCNAMEChain bounds CNAME chasing, against loops.
	maxCNAMEChain = 8
	// DefaultResolvConf is read when Options.Servers is empty.
	DefaultResolvConf = "/etc/resolv.conf"
)

// Options configure a Resolver.
type Options struct {
	// Servers are "host:port" or "host" (port 53) addresses, tried in
	// order. Empty: the nameservers of ResolvConf.
	Servers []string
	// Timeout bounds one query to one server. Default 5s.
	Timeout time.Duration
	// Attempts is how many times the whole server list is tried before
	// giving up. Default 2.
	Attempts int
	// ResolvConf is the resolv.conf(5) file read when Servers is empty.
	// Default /etc/resolv.conf.
	ResolvConf string
	// TrustAD believes the AD bit (a DNSSEC-validated answer, RFC 4035
	// section 3.2.3) from every server; without it, only from servers on
	// loopback, the only path an attacker cannot alter (RFC 6698 section
	// 4.1).
	TrustAD bool
}

// Resolver is a DNS stub resolver. It holds no cache and no global state;
// it is safe for concurrent use.
type Resolver struct {
	servers  []string
	trustAD  bool
	timeout  time.Duration
	attempts int
	udp      *dns.Client
	tcp      *dns.Client
}

// FromConfig returns the resolver the [dns] section describes, as config
// loaded it: the relay's and the command line's, so both see DNS alike.
func FromConfig(d config.DNS) (*Resolver, error) {
	return New(Options{Servers: d.Servers, Timeout: d.Timeout, TrustAD: d.TrustAD})
}

// New returns a Resolver for opts.
func New(opts Options) (*Resolver, error) {
	r := &Resolver{timeout: opts.Timeout, attempts: opts.Attempts, trustAD: opts.TrustAD}
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	if r.attempts <= 0 {
		r.attempts = DefaultAttempts
	}
	servers := opts.Servers
	if len(servers) == 0 {
		path := opts.ResolvConf
		if path == "" {
			path = DefaultResolvConf
		}
		cc, err := dns.ClientConfigFromFile(path)
		if err != nil {
			return nil, fmt.Errorf("resolver: reading nameservers from %s: %w", path, err)
		}
		for _, s := range cc.Servers {
			servers = append(servers, net.JoinHostPort(s, cc.Port))
		}
		if len(servers) == 0 {
			return nil, fmt.Errorf("resolver: %s names no nameserver; set dns.servers", path)
		}
	}
	for _, s := range servers {
		addr, err := normalizeServer(s)
		if err != nil {
			return nil, err
		}
		r.servers = append(r.servers, addr)
	}
	r.udp = &dns.Client{Net: "udp", Timeout: r.timeout, UDPSize: ednsBufferSize}
	r.tcp = &dns.Client{Net: "tcp", Timeout: r.timeout}
	return r, nil
}

// Servers returns the server addresses in the order they are tried.
func (r *Resolver) Servers() []string {
	return append([]string(nil), r.servers...)
}

// normalizeServer turns "1.2.3.4", "::1", "1.2.3.4:53" or "[::1]:53" into
// host:port form.
func normalizeServer(s string) (string, error) {
	if host, port, err := net.SplitHostPort(s); err == nil {
		if net.ParseIP(host) == nil || port == "" {
			return "", fmt.Errorf("resolver: server %q: want an IP address with optional :port", s)
		}
		return s, nil
	}
	if net.ParseIP(s) == nil {
		return "", fmt.Errorf("resolver: server %q: want an IP address with optional :port", s)
	}
	return net.JoinHostPort(s, "53"), nil
}

// lookup returns the records of type qtype at name, following CNAMEs.
// A nil error means at least one record.
func (r *Resolver) lookup(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	rrs, _, err := r.resolve(ctx, name, qtype)
	return rrs, err
}

// resolve is lookup that also says whether every answer on the way was
// DNSSEC-validated by a trusted server: the AD bit (RFC 4035 section
// 3.2.3), also for a not-found answer (a validated denial).
func (r *Resolver) resolve(ctx context.Context, name string, qtype uint16) ([]dns.RR, bool, error) {
	target := dns.Fqdn(name)
	if _, ok := dns.IsDomainName(target); !ok {
		return nil, false, &net.DNSError{Err: "invalid domain name", Name: name, IsNotFound: true, UnwrapErr: ErrNXDomain}
	}
	secure := true
	for hop := 0; hop <= maxCNAMEChain; hop++ {
		msg, server, err := r.exchange(ctx, target, qtype)
		if err != nil {
			return nil, false, withName(err, name)
		}
		secure = secure && msg.AuthenticatedData && r.trusts(server)
		rrs, next := answersFor(msg.Answer, target, qtype)
		if len(rrs) > 0 {
			return rrs, secure, nil
		}
		if msg.Rcode == dns.RcodeNameError {
			return nil, secure, notFoundError(name, server, true)
		}
		if strings.EqualFold(next, target) {
			return nil, secure, notFoundError(name, server, false)
		}
		// The answer ended on a CNAME target without its data (a server
		// that does not chase CNAMEs): ask for the target itself.
		target = next
	}
	return nil, false, &net.DNSError{Err: "CNAME chain too long", Name: name}
}

// trusts reports whether the AD bit of server's answers is believed.
func (r *Resolver) trusts(server string) bool {
	if r.trustAD {
		return true
	}
	host, _, err := net.SplitHostPort(server)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}

// answersFor picks from an answer section the records of type qtype owned by
// name or by the end of the CNAME chain that starts at name (RFC 1034
// section 3.6.2). It also returns the name the chain ended on.
func answersFor(answer []dns.RR, name string, qtype uint16) ([]dns.RR, string) {
	cur := name
	for hop := 0; hop <= maxCNAMEChain; hop++ {
		var out []dns.RR
		var cname string
		for _, rr := range answer {
			h := rr.Header()
			if !strings.EqualFold(h.Name, cur) {
				continue
			}
			if h.Rrtype == qtype {
				out = append(out, rr)
			} else if c, ok := rr.(*dns.CNAME); ok {
				cname = c.Target
			}
		}
		if len(out) > 0 || cname == "" {
			return out, cur
		}
		cur = cname
	}
	return nil, cur
}

// exchange sends one question to the servers in order until one gives a
// final answer (NOERROR or NXDOMAIN), trying the whole list up to
// r.attempts times. SERVFAIL, REFUSED, other RCODEs, timeouts and network
// errors move on to the next server.
func (r *Resolver) exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, string, error) {
	var last error
	for attempt := 0; attempt < r.attempts; attempt++ {
		for _, server := range r.servers {
			if err := ctx.Err(); err != nil {
				return nil, server, temporaryError(name, server, "lookup cancelled", err)
			}
			msg, err := r.ask(ctx, server, name, qtype, true)
			if err != nil {
				last = err
				continue
			}
			switch msg.Rcode {
			case dns.RcodeSuccess, dns.RcodeNameError:
				return msg, server, nil
			case dns.RcodeFormatError:
				// RFC 6891 section 7: a server that does not know EDNS
				// may answer FORMERR; ask again without the OPT record.
				if plain, err := r.ask(ctx, server, name, qtype, false); err == nil &&
					(plain.Rcode == dns.RcodeSuccess || plain.Rcode == dns.RcodeNameError) {
					return plain, server, nil
				}
				last = temporaryError(name, server, "server answered FORMERR", nil)
			case dns.RcodeServerFailure:
				last = temporaryError(name, server, "server misbehaving (SERVFAIL)", nil)
			case dns.RcodeRefused:
				last = temporaryError(name, server, "query refused (REFUSED)", nil)
			default:
				last = temporaryError(name, server, "server answered "+dns.RcodeToString[msg.Rcode], nil)
			}
		}
	}
	return nil, "", last
}

// ask sends one query to one server over UDP, and again over TCP when the
// UDP answer is truncated (RFC 7766 section 5).
func (r *Resolver) ask(ctx context.Context, server, name string, qtype uint16, edns bool) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.RecursionDesired = true
	// Ask for the AD bit (RFC 6840 section 5.7): a validating resolver
	// then says whether it validated the answer.
	q.AuthenticatedData = true
	if edns {
		q.SetEdns0(ednsBufferSize, false)
	}
	qctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	resp, _, err := r.udp.ExchangeContext(qctx, q, server)
	if resp != nil && resp.Truncated {
		resp, _, err = r.tcp.ExchangeContext(qctx, q, server)
	}
	if err != nil {
		reason := "network error"
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
			reason = "i/o timeout"
		}
		return nil, temporaryError(name, server, reason, err)
	}
	if resp.Truncated {
		return nil, temporaryError(name, server, "answer truncated over TCP", nil)
	}
	// Reject an answer to another question (RFC 5452 section 9.1); the
	// library already checked the message ID.
	// Error answers (FORMERR from old servers) may omit the question.
	final := resp.Rcode == dns.RcodeSuccess || resp.Rcode == dns.RcodeNameError
	if (final || len(resp.Question) > 0) && !sameQuestion(resp, name, qtype) {
		return nil, temporaryError(name, server, "answer does not match the question", nil)
	}
	return resp, nil
}

func sameQuestion(resp *dns.Msg, name string, qtype uint16) bool {
	return len(resp.Question) == 1 && strings.EqualFold(resp.Question[0].Name, name) &&
		resp.Question[0].Qtype == qtype
}
