package config

import (
	"fmt"
	"strings"
)

// TLSRPT configures the SMTP TLS reports (RFC 8460) the relay sends about
// its outbound sessions.
type TLSRPT struct {
	// Enabled counts sessions per policy domain and sends each domain
	// whose _smtp._tls record names a mailto: address one report a day.
	Enabled bool `toml:"enabled"`
	// From is the reports' sender; default postmaster@ the first
	// [[domains]] name (validate fills it in).
	From string `toml:"from"`
}

func (t *TLSRPT) validate(c *Config) error {
	if t.From == "" && len(c.Domains) > 0 {
		t.From = "postmaster@" + c.Domains[0].Name
	}
	if !t.Enabled {
		return nil
	}
	at := strings.LastIndexByte(t.From, '@')
	if at <= 0 || !c.HasDomain(t.From[at+1:]) {
		return fmt.Errorf("tlsrpt.from = %q: use an address at one of the [[domains]], whose key signs the reports", t.From)
	}
	return nil
}
