package authcheck

import (
	"dkimrelay/config"
	"fmt"
	"net"
	"net/netip"
)

// EgressIPs returns the addresses receivers will see mail come from: the
// configured delivery.egress_ips, else those the kernel would use toward the
// outside. In smarthost mode the smarthost's addresses are what receivers
// see, and its SPF is the upstream provider's affair, so only configured
// addresses are returned. note explains, for the log, why the list is
// empty when it is.
func EgressIPs(configured []netip.Addr, mode config.DeliveryMode) (ips []net.IP, note string) {
	for _, a := range configured {
		ips = append(ips, net.IP(a.AsSlice()))
	}
	if len(ips) > 0 {
		return ips, ""
	}
	if mode == config.ModeOutbox {
		return nil, "outbox mode: messages are written to files and never leave this machine, so SPF is not checked"
	}
	if mode == config.ModeSmarthost {
		return nil, "smarthost mode without delivery.egress_ips: the smarthost's SPF is its provider's affair, so SPF is not checked"
	}
	var private []string
	for _, ip := range DetectEgress() {
		// Behind NAT the kernel's address is not the one receivers see;
		// checking SPF for it would refuse every message.
		if ip.IsPrivate() || !ip.IsGlobalUnicast() {
			private = append(private, ip.String())
			continue
		}
		ips = append(ips, ip)
	}
	if len(ips) == 0 && len(private) > 0 {
		return nil, fmt.Sprintf("the detected address %s is private (the relay is behind NAT): SPF is not checked; set delivery.egress_ips to the public address", private[0])
	}
	if len(ips) == 0 {
		return nil, "no route to the outside found and delivery.egress_ips is empty: SPF is not checked; set delivery.egress_ips"
	}
	return ips, ""
}

// DetectEgress asks the kernel which local address it would use toward the
// outside, for IPv4 and IPv6. Connecting a UDP socket only consults the
// routing table; no packet is sent. The probe addresses are documentation
// prefixes (RFC 5737, RFC 3849), which are routed like any other.
func DetectEgress() []net.IP {
	var ips []net.IP
	for _, probe := range []string{"192.0.2.1:25", "[2001:db8::1]:25"} {
		c, err := net.Dial("udp", probe)
		if err != nil {
			continue
		}
		if a, ok := c.LocalAddr().(*net.UDPAddr); ok && !a.IP.IsLoopback() {
			ips = append(ips, a.IP)
		}
		c.Close()
	}
	return ips
}
