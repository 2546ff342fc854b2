package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// validateLimits checks the [submission] limits that guard the relay
// against its own clients (docs/security.md lists them with their
// defaults).
func (s *Submission) validateLimits() error {
	for i, p := range s.TrustedNetworks {
		s.TrustedNetworks[i] = p.Masked()
	}
	if s.MaxSessionLifetime < time.Second {
		return fmt.Errorf("submission.max_session_lifetime = %s must be at least 1s", s.MaxSessionLifetime)
	}
	if s.MaxMessagesPerSession < 1 {
		return fmt.Errorf("submission.max_messages_per_session = %d must be at least 1", s.MaxMessagesPerSession)
	}
	// EHLO, STARTTLS, EHLO again and AUTH LOGIN's three lines are six.
	if s.MaxPreAuthCommands < 8 {
		return fmt.Errorf("submission.max_pre_auth_commands = %d must be at least 8: a client needs six lines (EHLO, STARTTLS, EHLO, AUTH LOGIN and its two answers) to log in", s.MaxPreAuthCommands)
	}
	if s.MaxErrors < 1 || s.MaxRepeatedLogLines < 1 {
		return errors.New("submission.max_errors and submission.max_repeated_log_lines must be at least 1")
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
