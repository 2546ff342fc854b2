package config

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Submission configures the SMTP submission listeners (RFC 6409).
type Submission struct {
	Listen            []string `toml:"listen"`
	ListenTLS         []string `toml:"listen_tls"`
	TLSCert           string   `toml:"tls_cert"`
	TLSKey            string   `toml:"tls_key"`
	AllowInsecureAuth bool     `toml:"allow_insecure_auth"`
	MaxMessageSize    int64    `toml:"max_message_size"`
	MaxRecipients     int      `toml:"max_recipients"`
	// MaxHeaderSize bounds the header block, which is held in memory
	// while the message is checked and signed.
	MaxHeaderSize int `toml:"max_header_size"`
	// MaxConnections caps concurrent submission connections over all
	// listeners; one more is answered 421 and closed.
	MaxConnections int `toml:"max_connections"`
	// CommandTimeout is how long the server waits for the next command
	// or DATA line (RFC 5321 section 4.5.3.2.7 asks for at least 5 minutes).
	CommandTimeout time.Duration `toml:"command_timeout"`
	// PreAuthTimeout is the shorter idle limit before a client has
	// authenticated, so idle or slow unauthenticated connections cannot
	// hold the connection slots.
	PreAuthTimeout time.Duration `toml:"pre_auth_timeout"`
	// MaxConnectionsPerIP caps concurrent connections from one address
	// (IPv6: one /64).
	MaxConnectionsPerIP int `toml:"max_connections_per_ip"`
	// MaxCommandLength bounds an SMTP command line (RFC 5321 section
	// 4.5.3.1.4 sets 512; AUTH with a long initial response needs more).
	MaxCommandLength int `toml:"max_command_length"`
	// MaxAuthAttempts is how many failed AUTH commands one connection
	// gets before it is closed with 421.
	MaxAuthAttempts int `toml:"max_auth_attempts"`
	// AuthMaxFailures failed AUTHs from one address within
	// AuthFailureWindow block it for AuthBlock; reconnecting does not
	// reset the count.
	AuthMaxFailures   int           `toml:"auth_max_failures"`
	AuthFailureWindow time.Duration `toml:"auth_failure_window"`
	AuthBlock         time.Duration `toml:"auth_block"`
	// AuthFailureDelay is added to the answer of an AUTH for each recent
	// failure from the same address, up to five times this.
	AuthFailureDelay time.Duration `toml:"auth_failure_delay"`
	// AuthCacheTTL is how long a login that proved its password may log
	// in again with the same password without another argon2id
	// verification (0: verify every AUTH). See users.Cache.
	AuthCacheTTL time.Duration `toml:"auth_cache_ttl"`
	// RateMessagesPerMinute and RateRecipientsPerHour limit each login;
	// 0 (the default) is no limit, so an instance's announcement to every
	// user is never slowed.
	RateMessagesPerMinute int `toml:"rate_messages_per_minute"`
	RateRecipientsPerHour int `toml:"rate_recipients_per_hour"`
	// TrustedNetworks are the sources never blocked outright after failed
	// AUTHs (docs/security.md); checked in limits.go.
	TrustedNetworks []netip.Prefix `toml:"trusted_networks"`
	// Session limits (docs/security.md), checked in limits.go: an
	// authenticated session's lifetime and messages, the commands
	// allowed before AUTH, the errors allowed before the connection is
	// closed (as Postfix's smtpd_hard_error_limit), and how many times
	// one connection logs the same refusal.
	MaxSessionLifetime    time.Duration `toml:"max_session_lifetime"`
	MaxMessagesPerSession int           `toml:"max_messages_per_session"`
	MaxPreAuthCommands    int           `toml:"max_pre_auth_commands"`
	MaxErrors             int           `toml:"max_errors"`
	MaxRepeatedLogLines   int           `toml:"max_repeated_log_lines"`
	// DuplicateWindow is how long an accepted message is remembered, so
	// that the application's retry of it (rendered again, with a new
	// Message-ID, Date and MIME boundaries) is answered with the first
	// queue ID instead of being queued twice; 0 turns this off.
	DuplicateWindow time.Duration `toml:"duplicate_window"`
}

func (s *Submission) validate() error {
	if len(s.Listen)+len(s.ListenTLS) == 0 {
		return errors.New("submission.listen and submission.listen_tls are both empty: the relay would accept no mail")
	}
	for _, a := range s.Listen {
		if err := checkHostPort(a); err != nil {
			return fmt.Errorf("submission.listen: %w", err)
		}
	}
	for _, a := range s.ListenTLS {
		if err := checkHostPort(a); err != nil {
			return fmt.Errorf("submission.listen_tls: %w", err)
		}
	}
	if s.TLSCert == "" || s.TLSKey == "" {
		return errors.New("submission.tls_cert and submission.tls_key must be set: AUTH is only offered over TLS")
	}
	if s.MaxMessageSize < 1024 {
		return fmt.Errorf("submission.max_message_size = %d is too small (at least 1024 bytes)", s.MaxMessageSize)
	}
	if s.MaxRecipients < 1 {
		return fmt.Errorf("submission.max_recipients = %d must be at least 1", s.MaxRecipients)
	}
	if s.MaxHeaderSize < 1024 {
		return fmt.Errorf("submission.max_header_size = %d is too small (at least 1024 bytes)", s.MaxHeaderSize)
	}
	if s.MaxConnections < 1 {
		return fmt.Errorf("submission.max_connections = %d must be at least 1", s.MaxConnections)
	}
	if s.CommandTimeout < time.Second {
		return errors.New("submission.command_timeout must be at least 1s")
	}
	if s.PreAuthTimeout < time.Second || s.PreAuthTimeout > s.CommandTimeout {
		return errors.New("submission.pre_auth_timeout must be at least 1s and at most submission.command_timeout")
	}
	if s.MaxConnectionsPerIP < 1 {
		return fmt.Errorf("submission.max_connections_per_ip = %d must be at least 1", s.MaxConnectionsPerIP)
	}
	if s.MaxCommandLength < 512 {
		return fmt.Errorf("submission.max_command_length = %d is below RFC 5321's 512", s.MaxCommandLength)
	}
	if s.MaxAuthAttempts < 1 || s.AuthMaxFailures < 1 {
		return errors.New("submission.max_auth_attempts and submission.auth_max_failures must be at least 1")
	}
	if s.AuthFailureWindow <= 0 || s.AuthBlock <= 0 {
		return errors.New("submission.auth_failure_window and submission.auth_block must be positive")
	}
	if s.AuthCacheTTL > 24*time.Hour {
		return fmt.Errorf("submission.auth_cache_ttl = %s must be between 0 (off) and 24h", s.AuthCacheTTL)
	}
	if s.DuplicateWindow < 0 || s.DuplicateWindow > 24*time.Hour {
		return fmt.Errorf("submission.duplicate_window = %s must be between 0 (off) and 24h", s.DuplicateWindow)
	}
	if s.RateMessagesPerMinute < 0 || s.RateRecipientsPerHour < 0 {
		return errors.New("submission.rate_messages_per_minute and rate_recipients_per_hour must be 0 (no limit) or positive")
	}
	return s.validateLimits()
}
