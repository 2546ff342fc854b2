package config

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Domain is a sending domain the relay signs for.
type Domain struct {
	Name string `toml:"name"`
}

// validateDomains checks the [[domains]] and writes their names in
// lower case without the final dot.
func validateDomains(domains []Domain) error {
	seen := map[string]bool{}
	for i, d := range domains {
		n := strings.ToLower(strings.TrimSuffix(d.Name, "."))
		if !validHostname(n) {
			return fmt.Errorf("domains[%d].name %q is not a valid domain", i, d.Name)
		}
		if seen[n] {
			return fmt.Errorf("domains[%d].name %q is listed twice", i, d.Name)
		}
		seen[n] = true
		domains[i].Name = n
	}
	return nil
}

// DNS configures the resolver used for MX, SPF, DKIM and DMARC lookups.
type DNS struct {
	Servers []string      `toml:"servers"`
	Timeout time.Duration `toml:"timeout"`
	// TrustAD believes the AD bit (DNSSEC-validated) of servers that are
	// not on loopback; DANE rests on it.
	TrustAD bool `toml:"trust_ad"`
}

func (d *DNS) validate() error {
	for _, a := range d.Servers {
		if err := checkHostPort(a); err != nil {
			return fmt.Errorf("dns.servers: %w (write \"IP:53\")", err)
		}
	}
	if d.Timeout <= 0 {
		return errors.New("dns.timeout must be positive")
	}
	return nil
}

// Log configures the JSON event log.
type Log struct {
	File  string     `toml:"file"`
	Level slog.Level `toml:"level"`
}

func (l *Log) validate() error {
	switch l.Level {
	case slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError:
		return nil
	}
	return fmt.Errorf("log.level = %q: use \"debug\", \"info\", \"warn\" or \"error\"", strings.ToLower(l.Level.String()))
}

// Metrics configures the HTTP server of the Prometheus metrics, the
// health checks and the status page.
type Metrics struct {
	Listen string `toml:"listen"`
	// PasswordFile, when set, holds the password (its first line, the
	// file 0600) that HTTP basic auth asks for on every path but /healthz.
	PasswordFile string `toml:"password_file"`
}

func (m *Metrics) validate() error {
	if m.PasswordFile != "" && m.Listen == "" {
		return errors.New("metrics.password_file is set but metrics.listen is not: set metrics.listen (e.g. \"127.0.0.1:9187\") or remove the password file")
	}
	if m.Listen != "" {
		if err := checkHostPort(m.Listen); err != nil {
			return fmt.Errorf("metrics.listen: %w", err)
		}
	}
	return nil
}
