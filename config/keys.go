package config

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Keys configures the DKIM key life cycle.
type Keys struct {
	RetireAfter time.Duration `toml:"retire_after"`
	// RotateAfter is how long a key signs before `keys rotate` starts
	// replacing it. M3AAWG's DKIM key rotation best practices ask for a
	// new key at least twice a year; the default is 90 days.
	RotateAfter time.Duration `toml:"rotate_after"`
	// Publish, when its server is set, lets `keys ... --publish` write
	// and delete the keys' TXT records by dynamic update.
	Publish Publish `toml:"publish"`
}

// Publish configures RFC 2136 dynamic DNS updates of DKIM records, signed
// with TSIG (RFC 8945).
type Publish struct {
	// Server is the primary server accepting updates, "host:port".
	Server string `toml:"server"`
	// Zone is the zone updated; empty means the key's domain.
	Zone           string `toml:"zone"`
	TSIGKeyName    string `toml:"tsig_key_name"`
	TSIGAlgorithm  string `toml:"tsig_algorithm"`
	TSIGSecretFile string `toml:"tsig_secret_file"`
	// TTL of the records written.
	TTL time.Duration `toml:"ttl"`
	// Timeout bounds one update exchange.
	Timeout time.Duration `toml:"timeout"`
}

// Enabled reports whether dynamic updates are configured.
func (p Publish) Enabled() bool { return p.Server != "" }

// TSIGAlgorithms are the tsig_algorithm values accepted: the HMACs of RFC
// 8945 section 6 that servers still implement (HMAC-MD5 is deprecated).
var TSIGAlgorithms = []string{"hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1"}

// validate checks the [keys] values other than retire_after, which is
// checked against delivery.max_lifetime.
func (k *Keys) validate() error {
	if k.RotateAfter <= 0 {
		return errors.New("keys.rotate_after must be positive, e.g. \"2160h\" (90 days)")
	}
	p := &k.Publish
	if !p.Enabled() {
		if p.Zone != "" || p.TSIGKeyName != "" || p.TSIGSecretFile != "" {
			return errors.New("keys.publish.server is not set: set it to the primary DNS server's host:port, or remove the [keys.publish] table")
		}
		return nil
	}
	if err := checkHostPort(p.Server); err != nil {
		return fmt.Errorf("keys.publish.server: %w (write the primary server as \"host:53\")", err)
	}
	if p.Zone != "" {
		if !validHostname(p.Zone) {
			return fmt.Errorf("keys.publish.zone %q is not a valid domain", p.Zone)
		}
		p.Zone = strings.ToLower(strings.TrimSuffix(p.Zone, "."))
	}
	// Unsigned updates are accepted by address alone, which anyone on
	// the path can forge; RFC 3007 asks for authenticated updates.
	if p.TSIGKeyName == "" || p.TSIGSecretFile == "" {
		return errors.New("keys.publish.tsig_key_name and keys.publish.tsig_secret_file must be set: dynamic updates are signed with TSIG")
	}
	if !validHostname(p.TSIGKeyName) {
		return fmt.Errorf("keys.publish.tsig_key_name %q is not a valid key name (letters, digits, hyphens and dots)", p.TSIGKeyName)
	}
	p.TSIGAlgorithm = strings.ToLower(strings.TrimSuffix(p.TSIGAlgorithm, "."))
	known := false
	for _, a := range TSIGAlgorithms {
		known = known || p.TSIGAlgorithm == a
	}
	if !known {
		return fmt.Errorf("keys.publish.tsig_algorithm = %q: use one of %s", p.TSIGAlgorithm, strings.Join(TSIGAlgorithms, ", "))
	}
	// TTLs are 32-bit seconds (RFC 2181 section 8); zero would make every
	// verifier ask again for each message.
	if p.TTL < time.Second || p.TTL > 24*time.Hour || p.TTL%time.Second != 0 {
		return fmt.Errorf("keys.publish.ttl = %s: use whole seconds between 1s and 24h", p.TTL)
	}
	if p.Timeout <= 0 {
		return errors.New("keys.publish.timeout must be positive")
	}
	return nil
}
