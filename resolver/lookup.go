package resolver

import (
	"context"
	"math/rand/v2"
	"net"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// source answers one query; the Resolver and its Trackers share the
// parsing below and differ only in what they note about each answer.
type source func(ctx context.Context, name string, qtype uint16) ([]dns.RR, error)

// LookupMX returns the MX records of name sorted by preference, records of
// equal preference in random order (RFC 5321 section 5.1). Hosts keep their
// trailing dot, as net.Resolver's do; a null MX (RFC 7505) has Host ".".
func (r *Resolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	return lookupMX(ctx, r.lookup, name, true)
}

func lookupMX(ctx context.Context, src source, name string, shuffle bool) ([]*net.MX, error) {
	rrs, err := src(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	mxs := make([]*net.MX, 0, len(rrs))
	for _, rr := range rrs {
		if mx, ok := rr.(*dns.MX); ok {
			mxs = append(mxs, &net.MX{Host: mx.Mx, Pref: mx.Preference})
		}
	}
	// Shuffle first, then a stable sort keeps the random order within
	// each preference.
	if shuffle {
		rand.Shuffle(len(mxs), func(i, j int) { mxs[i], mxs[j] = mxs[j], mxs[i] })
	}
	slices.SortStableFunc(mxs, func(a, b *net.MX) int { return int(a.Pref) - int(b.Pref) })
	return mxs, nil
}

// LookupTXT returns one string per TXT record, its character-strings joined
// without separator (RFC 7208 section 3.3, RFC 6376 section 3.6.2.2).
func (r *Resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	return lookupTXT(ctx, r.lookup, name)
}

func lookupTXT(ctx context.Context, src source, name string) ([]string, error) {
	rrs, err := src(ctx, name, dns.TypeTXT)
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

// LookupIPAddr returns the IPv6 (AAAA) then IPv4 (A) addresses of host,
// IPv6 first as RFC 6724 section 6 orders global addresses. An IP literal
// is returned as is. Records of one family are enough: an error for the
// other is then ignored, as net.Resolver does.
func (r *Resolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	ips, err := r.LookupIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	return ipAddrs(ips), nil
}

func ipAddrs(ips []net.IP) []net.IPAddr {
	addrs := make([]net.IPAddr, len(ips))
	for i, ip := range ips {
		addrs[i] = net.IPAddr{IP: ip}
	}
	return addrs
}

// LookupHost is LookupIPAddr with the addresses as strings.
func (r *Resolver) LookupHost(ctx context.Context, host string) ([]string, error) {
	ips, err := r.LookupIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out, nil
}

// LookupIP returns the addresses of host for network "ip" (AAAA and A),
// "ip4" (A) or "ip6" (AAAA).
func (r *Resolver) LookupIP(ctx context.Context, network, host string) ([]net.IP, error) {
	ips, _, err := lookupIP(ctx, r.lookup, network, host)
	return ips, err
}

// answer is one query's outcome.
type answer struct {
	rrs []dns.RR
	err error
}

// lookupIP also returns the answers it used, so a Tracker can note them.
func lookupIP(ctx context.Context, src source, network, host string) ([]net.IP, []answer, error) {
	var qtypes []uint16
	switch network {
	case "ip":
		qtypes = []uint16{dns.TypeAAAA, dns.TypeA}
	case "ip4":
		qtypes = []uint16{dns.TypeA}
	case "ip6":
		qtypes = []uint16{dns.TypeAAAA}
	default:
		return nil, nil, &net.DNSError{Err: "unknown network " + network, Name: host}
	}
	if ip := net.ParseIP(host); ip != nil {
		if (network == "ip4" && ip.To4() == nil) || (network == "ip6" && ip.To4() != nil) {
			return nil, nil, notFoundError(host, "", false)
		}
		return []net.IP{ip}, nil, nil
	}

	// The families are asked in parallel: the caller waits for one round
	// trip, not two.
	answers := make([]answer, len(qtypes))
	done := make(chan struct{}, len(qtypes))
	for i, qt := range qtypes {
		go func() {
			rrs, err := src(ctx, host, qt)
			answers[i] = answer{rrs, err}
			done <- struct{}{}
		}()
	}
	for range qtypes {
		<-done
	}

	var ips []net.IP
	var temporary, nxdomain error
	var notFound error
	for _, a := range answers {
		for _, rr := range a.rrs {
			switch v := rr.(type) {
			case *dns.A:
				ips = append(ips, v.A)
			case *dns.AAAA:
				ips = append(ips, v.AAAA)
			}
		}
		switch {
		case a.err == nil:
		case IsTemporary(a.err):
			temporary = a.err
		case IsNXDomain(a.err):
			nxdomain = a.err
		default:
			notFound = a.err
		}
	}
	switch {
	case len(ips) > 0:
		return ips, answers, nil
	case temporary != nil:
		return nil, answers, temporary
	case nxdomain != nil:
		return nil, answers, nxdomain
	case notFound != nil:
		return nil, answers, notFound
	}
	return nil, answers, notFoundError(host, "", false)
}

// LookupAddr returns the names of addr from its PTR records (RFC 1035
// section 3.5), with their trailing dot, as net.Resolver does.
func (r *Resolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	return lookupAddr(ctx, r.lookup, addr)
}

func lookupAddr(ctx context.Context, src source, addr string) ([]string, error) {
	if net.ParseIP(addr) == nil {
		return nil, &net.DNSError{Err: "unrecognized address", Name: addr}
	}
	reverse, err := dns.ReverseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: "unrecognized address", Name: addr}
	}
	rrs, err := src(ctx, reverse, dns.TypePTR)
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
