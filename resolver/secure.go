package resolver

import (
	"context"
	"net"
	"strconv"

	"github.com/miekg/dns"
)

// The lookups DANE needs (RFC 7672 section 2.2): each also says whether
// its answer was DNSSEC-validated by a trusted server (see
// Options.TrustAD). A bogus answer comes back from a validating resolver
// as SERVFAIL: a temporary error.

// LookupMXSecure is LookupMX and whether the answer was validated.
func (r *Resolver) LookupMXSecure(ctx context.Context, name string) ([]*net.MX, bool, error) {
	var secure bool
	src := func(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
		rrs, s, err := r.resolve(ctx, name, qtype)
		secure = s
		return rrs, err
	}
	mxs, err := lookupMX(ctx, src, name, true)
	return mxs, secure, err
}

// LookupIPSecure is LookupIPAddr's addresses and whether both families'
// answers were validated.
func (r *Resolver) LookupIPSecure(ctx context.Context, host string) ([]net.IP, bool, error) {
	if ip := net.ParseIP(host); ip != nil {
		return []net.IP{ip}, false, nil
	}
	secure := make(chan bool, 2)
	src := func(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
		rrs, s, err := r.resolve(ctx, name, qtype)
		secure <- s
		return rrs, err
	}
	ips, _, err := lookupIP(ctx, src, "ip", host)
	close(secure)
	all := true
	for s := range secure {
		all = all && s
	}
	return ips, all, err
}

// LookupTLSA returns the TLSA records of host's port over TCP
// (_PORT._tcp.HOST, RFC 6698 section 3) and whether they were validated.
func (r *Resolver) LookupTLSA(ctx context.Context, port int, host string) ([]*dns.TLSA, bool, error) {
	rrs, secure, err := r.resolve(ctx, "_"+strconv.Itoa(port)+"._tcp."+dns.Fqdn(host), dns.TypeTLSA)
	if err != nil {
		return nil, secure, err
	}
	var out []*dns.TLSA
	for _, rr := range rrs {
		if t, ok := rr.(*dns.TLSA); ok {
			out = append(out, t)
		}
	}
	return out, secure, nil
}
