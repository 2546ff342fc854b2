package delivery

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"dkimrelay/events"
	"dkimrelay/internal/netclass"

	"dkimrelay/relay/outcome"
	"dkimrelay/resolver"
)

// hop is one host to try, in order. ips is set for IP literals; otherwise
// the host's addresses are looked up when its turn comes.
type hop struct {
	name     string
	ips      []net.IP
	implicit bool // the domain itself, for lack of MX records
	// secure: the MX answer (or its validated denial, for an implicit
	// MX) was DNSSEC-validated, the first condition of DANE (RFC 7672
	// section 2.2.1).
	secure bool
}

// route finds the hosts that receive mail for domain (RFC 5321 section 5.1).
// A nil hop list comes with the final outcome for the whole domain.
func (t *txn) route(ctx context.Context, domain string) ([]hop, *outcome.Outcome) {
	// An address literal: deliver to that address (RFC 5321 section 4.1.3).
	if strings.HasPrefix(domain, "[") && strings.HasSuffix(domain, "]") {
		lit := domain[1 : len(domain)-1]
		if v6, ok := strings.CutPrefix(strings.ToLower(lit), "ipv6:"); ok {
			lit = v6
		}
		ip := net.ParseIP(lit)
		if ip == nil {
			o := outcome.Local(outcome.Permanent, "5.1.2", "malformed address literal "+domain)
			return nil, &o
		}
		return []hop{{name: domain, ips: []net.IP{ip}}}, nil
	}

	var mxs []*net.MX
	var err error
	secure := false
	if dr := t.d.cfg.DANEResolver; dr != nil {
		mxs, secure, err = dr.LookupMXSecure(ctx, domain)
	} else {
		mxs, err = t.d.cfg.Resolver.LookupMX(ctx, domain)
	}
	switch {
	case err == nil:
	case resolver.IsNXDomain(err):
		o := outcome.Local(outcome.Permanent, "5.1.2", "domain "+domain+" does not exist (NXDOMAIN)")
		return nil, &o
	case resolver.IsNotFound(err):
		// No MX records: the domain itself is the implicit MX.
		return []hop{{name: domain, implicit: true, secure: secure}}, nil
	default:
		o := outcome.Local(outcome.Transient, "4.4.3", "MX lookup for "+domain+" failed: "+err.Error())
		return nil, &o
	}

	var hops []hop
	for _, mx := range mxs {
		name := strings.TrimSuffix(mx.Host, ".")
		if name == "" {
			// A null MX (RFC 7505 section 3) is only meaningful alone;
			// among other MX records it names no host and is skipped.
			continue
		}
		hops = append(hops, hop{name: name, secure: secure})
	}
	if len(hops) == 0 {
		// RFC 7505 section 4.1: do not try the domain's addresses; the
		// status is 5.1.10 (RFC 7505 section 4.2).
		o := outcome.Local(outcome.Permanent, "5.1.10", "domain "+domain+" does not accept mail (null MX)")
		return nil, &o
	}
	return hops, nil
}

// addresses looks up hop h's addresses. A nil list comes with the outcome
// that explains why; a list comes with whether every answer was
// DNSSEC-validated. Unless delivery.allow_internal, the internal addresses
// (loopback, private, link-local) are left out, and a host with no other
// is a deferral that says so.
func (t *txn) addresses(ctx context.Context, domain string, h hop) ([]net.IP, bool, *outcome.Outcome) {
	ips, secure, o := t.lookupAddresses(ctx, domain, h)
	if o != nil || t.d.cfg.AllowInternal {
		return ips, secure, o
	}
	public := ips[:0:0]
	var internal []string
	for _, ip := range ips {
		a, _ := netip.AddrFromSlice(ip)
		if netclass.Internal(a) {
			internal = append(internal, a.Unmap().String())
			continue
		}
		public = append(public, ip)
	}
	if len(public) == 0 {
		what := "MX host " + h.name
		if h.ips != nil {
			what = "the address literal " + h.name
		} else if h.implicit {
			what = "domain " + domain + " (no MX)"
		}
		o := outcome.Local(outcome.Transient, "4.4.1", what+" has only internal addresses ("+strings.Join(internal, ", ")+
			"): the relay does not deliver to loopback, private or link-local networks unless delivery.allow_internal = true")
		o.MX = h.name
		return nil, false, &o
	}
	if len(internal) > 0 {
		events.InternalAddressesSkip{MX: h.name, Addrs: internal}.Log(t.log)
	}
	return public, secure, nil
}

// lookupAddresses is addresses with every address the host has.
func (t *txn) lookupAddresses(ctx context.Context, domain string, h hop) ([]net.IP, bool, *outcome.Outcome) {
	if h.ips != nil {
		return h.ips, false, nil
	}
	var ips []net.IP
	var err error
	secure := false
	if dr := t.d.cfg.DANEResolver; dr != nil && h.secure {
		ips, secure, err = dr.LookupIPSecure(ctx, h.name)
	} else {
		var addrs []net.IPAddr
		addrs, err = t.d.cfg.Resolver.LookupIPAddr(ctx, h.name)
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	if err != nil {
		var o outcome.Outcome
		switch {
		case resolver.IsNotFound(err) && h.implicit:
			o = outcome.Local(outcome.Permanent, "5.1.2", "domain "+domain+" has no MX and no address records")
		case resolver.IsNotFound(err):
			o = outcome.Local(outcome.Permanent, "5.4.4", "MX host "+h.name+" has no address records")
		default:
			o = outcome.Local(outcome.Transient, "4.4.3", "address lookup for "+h.name+" failed: "+err.Error())
		}
		o.MX = h.name
		return nil, false, &o
	}
	return ips, secure, nil
}
