package resolver

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Tracker answers like the Resolver it came from (the same net.Resolver
// method set) and remembers how long its answers may be trusted: the
// smallest TTL of the records it returned (RFC 1035 section 3.2.1), and
// whether any lookup ended in NXDOMAIN or NODATA. A caller that derives one
// result from several lookups, as an SPF evaluation does, may keep that
// result no longer than its least durable input.
//
// A Tracker is for one such derivation; it is safe for concurrent use.
type Tracker struct {
	r *Resolver

	mu       sync.Mutex
	minTTL   uint32
	records  bool // some lookup returned records
	negative bool // some lookup returned NXDOMAIN or NODATA
}

// Track returns a Tracker making its lookups through r.
func (r *Resolver) Track() *Tracker { return &Tracker{r: r} }

// TTL reports the smallest TTL among the records returned so far (ok is
// false when none was), and whether a lookup found nothing. The Resolver
// does not report the TTL of a negative answer (the SOA minimum of RFC 2308
// section 5), so a caller should treat negative as "short".
func (t *Tracker) TTL() (ttl time.Duration, ok, negative bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return time.Duration(t.minTTL) * time.Second, t.records, t.negative
}

func (t *Tracker) lookup(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	rrs, err := t.r.lookup(ctx, name, qtype)
	t.note(rrs, err)
	return rrs, err
}

// note records what one answer says about freshness. Temporary errors say
// nothing: a result built on them should not be kept at all.
func (t *Tracker) note(rrs []dns.RR, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		if IsNotFound(err) {
			t.negative = true
		}
		return
	}
	for _, rr := range rrs {
		ttl := rr.Header().Ttl
		if !t.records || ttl < t.minTTL {
			t.minTTL = ttl
		}
		t.records = true
	}
}

// LookupTXT is Resolver.LookupTXT, tracked.
func (t *Tracker) LookupTXT(ctx context.Context, name string) ([]string, error) {
	return lookupTXT(ctx, t.lookup, name)
}

// LookupMX is Resolver.LookupMX, tracked. The records come in preference
// order; unlike the Resolver, equal preferences are not shuffled, as no
// caller of a Tracker delivers mail.
func (t *Tracker) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	return lookupMX(ctx, t.lookup, name, false)
}

// LookupIPAddr is Resolver.LookupIPAddr, tracked: AAAA and A records, one
// family's error ignored when the other has records. Only the lookups
// whose answer is used count toward TTL and negative.
func (t *Tracker) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	ips, answers, err := lookupIP(ctx, t.r.lookup, "ip", host)
	if err != nil {
		t.note(nil, err)
		return nil, err
	}
	for _, a := range answers {
		if a.err == nil {
			t.note(a.rrs, nil)
		}
	}
	return ipAddrs(ips), nil
}

// LookupAddr is Resolver.LookupAddr, tracked.
func (t *Tracker) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	return lookupAddr(ctx, t.lookup, addr)
}
