package config

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// validateLimits checks the [submission] limits that guard the relay
// against its own clients (docs/security.md lists them with their
// defaults).
func (s *Submission) validateLimits() error {
	for i, p := range s.TrustedNetworks {
		s.TrustedNetworks[i] = p.Masked()
	}
	if s.AllowInsecureAuth {
		for _, a := range s.Listen {
			if !loopbackListener(a) {
				return fmt.Errorf("submission.allow_insecure_auth = true, but the listener %s is not on loopback: passwords would cross the network in the clear; listen on 127.0.0.1 or ::1 only, or set allow_insecure_auth = false and let clients use STARTTLS", a)
			}
		}
	}
	return nil
}

// loopbackListener reports whether the listen address host:port only
// accepts connections from this machine.
func loopbackListener(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
