package delivery

import (
	"context"
	"net"
	"strings"

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
// that explains why.
func (t *txn) addresses(ctx context.Context, domain string, h hop) ([]net.IP, bool, *outcome.Outcome) {
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
