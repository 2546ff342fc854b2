package dnscheck

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"dkimrelay/config"
	"dkimrelay/keys"
	"dkimrelay/resolver"
)

// DefaultProbeDomain is the domain whose MX the port 25 probe connects to
// when none is given: a large receiver that is always up and answers
// anyone, so a failure says something about the path out, not about it.
const DefaultProbeDomain = "gmail.com"

// Options are what Run checks.
type Options struct {
	Domain   string
	Hostname string              // the relay's EHLO name
	Mode     config.DeliveryMode // delivery.mode
	// EgressIPs are the addresses mail leaves from; EgressNote says why
	// there are none when there are none.
	EgressIPs  []net.IP
	EgressNote string
	// Keys are the domain's DKIM keys; the active and pending ones are
	// checked.
	Keys     []*keys.Key
	Resolver *resolver.Resolver
	// Probe says how to test outbound port 25; nil skips the test.
	Probe *Probe
	// Bulk is the recent bulk-class mail counted from the log; nil when
	// there is no log to read.
	Bulk *BulkMail
}

// Probe is the outbound port 25 test: a TCP connection to an MX of Domain
// on Port, which must greet with 220.
type Probe struct {
	Domain  string
	Port    int
	Timeout time.Duration // per connection; default 10s
	// Dial connects; nil uses a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Run runs every check, in a fixed order, and returns the report.
func Run(ctx context.Context, o Options) *Report {
	o.Domain = strings.ToLower(strings.TrimSuffix(o.Domain, "."))
	r := &Report{Domain: o.Domain, Hostname: o.Hostname, Mode: string(o.Mode), EgressIPs: []string{}}
	for _, ip := range o.EgressIPs {
		r.EgressIPs = append(r.EgressIPs, ip.String())
	}
	checkSPF(ctx, r, o)
	checkDKIM(ctx, r, o)
	checkDMARC(ctx, r, o)
	checkReverseDNS(ctx, r, o)
	checkMX(ctx, r, o)
	checkPort25(ctx, r, o)
	checkMTASTS(ctx, r, o)
	checkTLSRPT(ctx, r, o)
	checkBulkSender(r, o)
	r.OK = !r.Failed()
	return r
}

// lookupProblem words a failed lookup for a message, and says whether it
// means "nothing there" (NXDOMAIN or NODATA) rather than a failure.
func lookupProblem(err error) (string, bool) {
	if resolver.IsNotFound(err) {
		return "", true
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		return "looking up " + de.Name + " failed (" + de.Err + "); try again later", false
	}
	return err.Error(), false
}

// quoteTXT writes a TXT record value as one zone-file character-string.
func quoteTXT(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}
