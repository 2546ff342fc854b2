package resolver

import (
	"context"
	"net"
	"slices"
	"strings"
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
	rrs, err := t.lookup(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	txts := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		if txt, ok := rr.(*dns.TXT); ok {
			txts = append(txts, strings.Join(txt.Txt, ""))
		}
	}
	return txts, nil
}

// LookupMX is Resolver.LookupMX, tracked. The records come in preference
// order; unlike the Resolver, equal preferences are not shuffled, as no
// caller of a Tracker delivers mail.
func (t *Tracker) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	rrs, err := t.lookup(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	mxs := make([]*net.MX, 0, len(rrs))
	for _, rr := range rrs {
		if mx, ok := rr.(*dns.MX); ok {
			mxs = append(mxs, &net.MX{Host: mx.Mx, Pref: mx.Preference})
		}
	}
	slices.SortStableFunc(mxs, func(a, b *net.MX) int { return int(a.Pref) - int(b.Pref) })
	return mxs, nil
}

// LookupIPAddr is Resolver.LookupIPAddr, tracked: AAAA and A records, one
// family's error ignored when the other has records. Only the lookups
// whose answer is used count toward TTL and negative.
func (t *Tracker) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	if ip := net.ParseIP(host); ip != nil {
		return []net.IPAddr{{IP: ip}}, nil
	}
	type answer struct {
		rrs []dns.RR
		err error
	}
	qtypes := []uint16{dns.TypeAAAA, dns.TypeA}
	answers := make([]answer, len(qtypes))
	var wg sync.WaitGroup
	for i, qt := range qtypes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rrs, err := t.r.lookup(ctx, host, qt)
			answers[i] = answer{rrs, err}
		}()
	}
	wg.Wait()

	var addrs []net.IPAddr
	for _, a := range answers {
		for _, rr := range a.rrs {
			switch v := rr.(type) {
			case *dns.A:
				addrs = append(addrs, net.IPAddr{IP: v.A})
			case *dns.AAAA:
				addrs = append(addrs, net.IPAddr{IP: v.AAAA})
			}
		}
	}
	if len(addrs) > 0 {
		for _, a := range answers {
			if a.err == nil {
				t.note(a.rrs, nil)
			}
		}
		return addrs, nil
	}
	// No address: the most telling error wins, as in Resolver.LookupIP.
	var err error
	for _, pick := range []func(error) bool{IsTemporary, IsNXDomain, func(e error) bool { return e != nil }} {
		for _, a := range answers {
			if err == nil && pick(a.err) {
				err = a.err
			}
		}
	}
	if err == nil {
		err = notFoundError(host, "", false)
	}
	t.note(nil, err)
	return nil, err
}

// LookupAddr is Resolver.LookupAddr, tracked.
func (t *Tracker) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	reverse, err := dns.ReverseAddr(addr)
	if err != nil || net.ParseIP(addr) == nil {
		return nil, &net.DNSError{Err: "unrecognized address", Name: addr}
	}
	rrs, err := t.lookup(ctx, reverse, dns.TypePTR)
	if err != nil {
		return nil, withName(err, addr)
	}
	names := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		if ptr, ok := rr.(*dns.PTR); ok {
			names = append(names, ptr.Ptr)
		}
	}
	return names, nil
}
