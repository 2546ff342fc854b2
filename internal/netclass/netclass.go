// Package netclass tells the addresses of internal networks from those of
// the internet, for delivery.allow_internal (README.md, docs/security.md):
// an application's login must not make the relay connect to mail servers
// that trust the relay's own network.
package netclass

import "net/netip"

// special are the ranges that are internal without being loopback,
// private or link-local in net/netip's sense.
var special = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network" (RFC 791, RFC 1122 section 3.2.1.3): reaches the host itself
	netip.MustParsePrefix("100.64.0.0/10"),  // shared address space of carrier-grade NAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments (RFC 6890)
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking networks (RFC 2544)
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and the limited broadcast address
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use IPv4/IPv6 translation (RFC 8215)
}

// Internal reports whether ip belongs to a loopback, private (RFC 1918,
// RFC 4193), link-local, unspecified, multicast or other non-global range
// (an IPv4 address written as IPv6 counts as itself). The invalid zero
// Addr is internal: it names no host on the internet.
func Internal(ip netip.Addr) bool {
	if !ip.IsValid() {
		return true
	}
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return true
	}
	for _, p := range special {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
