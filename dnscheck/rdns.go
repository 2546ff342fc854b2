package dnscheck

import (
	"context"
	"dkimrelay/config"
	"fmt"
	"net"
	"strings"

	"github.com/miekg/dns"
)

// checkReverseDNS checks that each egress address has a PTR record naming
// a host that resolves back to it (forward-confirmed reverse DNS), which
// large receivers require, and that the host is the relay's EHLO name.
func checkReverseDNS(ctx context.Context, r *Report, o Options) {
	if len(o.EgressIPs) == 0 {
		if o.Mode == config.ModeSmarthost {
			r.add(Result{Check: "rdns", Status: Info, Message: "smarthost mode: receivers see the smarthost's addresses, whose reverse DNS is its provider's affair"})
		}
		return
	}
	for _, ip := range o.EgressIPs {
		r.add(reverseDNS(ctx, o, ip))
	}
}

func reverseDNS(ctx context.Context, o Options, ip net.IP) Result {
	res := Result{Check: "rdns", Required: true}
	host := strings.TrimSuffix(o.Hostname, ".")
	rev, _ := dns.ReverseAddr(ip.String())
	ptr := fmt.Sprintf("%s IN PTR %s.", rev, host)
	names, err := o.Resolver.LookupAddr(ctx, ip.String())
	if err != nil {
		if p, notFound := lookupProblem(err); !notFound {
			res.Status, res.Message = Fail, p
			return res
		}
	}
	if len(names) == 0 {
		res.Status, res.Record = Fail, ptr
		res.Message = fmt.Sprintf("%s has no reverse DNS (PTR) record, and many receivers refuse mail from such addresses: ask the provider of %s to set its reverse DNS to %s, which must resolve to %s", ip, ip, host, ip)
		return res
	}
	var confirmed []string
	for _, n := range names {
		n = strings.TrimSuffix(n, ".")
		addrs, err := o.Resolver.LookupIPAddr(ctx, n)
		if err != nil {
			if p, notFound := lookupProblem(err); !notFound {
				res.Status, res.Message = Fail, p
				return res
			}
		}
		for _, a := range addrs {
			if a.IP.Equal(ip) {
				confirmed = append(confirmed, strings.ToLower(n))
			}
		}
	}
	if len(confirmed) == 0 {
		name := strings.TrimSuffix(names[0], ".")
		res.Status = Fail
		res.Record = fmt.Sprintf("%s. IN %s %s", name, addressType(ip), ip)
		res.Message = fmt.Sprintf("the reverse DNS of %s names %s, which does not resolve back to %s, so receivers treat the address as unnamed", ip, strings.Join(trimDots(names), ", "), ip)
		return res
	}
	for _, n := range confirmed {
		if strings.EqualFold(n, host) {
			res.Status = Pass
			res.Message = fmt.Sprintf("%s is named %s, which resolves back to it and is the relay's hostname", ip, n)
			return res
		}
	}
	res.Status = Warning
	res.Message = fmt.Sprintf("%s is named %s, which resolves back to it but is not the relay's hostname %s (its EHLO name): set hostname = %q in the config, or have the reverse DNS changed to %s", ip, confirmed[0], host, confirmed[0], host)
	return res
}

func addressType(ip net.IP) string {
	if ip.To4() != nil {
		return "A"
	}
	return "AAAA"
}

func trimDots(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.TrimSuffix(n, ".")
	}
	return out
}
