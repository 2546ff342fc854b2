// Package config loads and validates dkimrelay's TOML configuration file.
//
// The file's keys are the outside interface documented in the README: an
// unknown key or a bad value stops the start with an error that names the
// key and the file, because a typo that silently falls back to a default is
// how mail ends up unsigned or undelivered. Relative paths resolve against the
// folder that holds the file, so the same config works wherever the relay is
// started from.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the whole configuration after defaults and validation.
type Config struct {
	// Path is the file the config was read from (absolute).
	Path string `toml:"-"`

	Hostname string `toml:"hostname"`
	DataDir  string `toml:"data_dir"`

	Submission Submission `toml:"submission"`
	Domains    []Domain   `toml:"domains"`
	Delivery   Delivery   `toml:"delivery"`
	DNS        DNS        `toml:"dns"`
	Keys       Keys       `toml:"keys"`
	Log        Log        `toml:"log"`
	Metrics    Metrics    `toml:"metrics"`
	Reports    Reports    `toml:"reports"`
}

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
	CommandTimeout Duration `toml:"command_timeout"`
	// PreAuthTimeout is the shorter idle limit before a client has
	// authenticated, so idle or slow unauthenticated connections cannot
	// hold the connection slots.
	PreAuthTimeout Duration `toml:"pre_auth_timeout"`
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
	AuthMaxFailures   int      `toml:"auth_max_failures"`
	AuthFailureWindow Duration `toml:"auth_failure_window"`
	AuthBlock         Duration `toml:"auth_block"`
	// AuthFailureDelay is added to the answer of an AUTH for each recent
	// failure from the same address, up to five times this.
	AuthFailureDelay Duration `toml:"auth_failure_delay"`
	// AuthCacheTTL is how long a login that proved its password may log
	// in again with the same password without another argon2id
	// verification (0: verify every AUTH). See users.Cache.
	AuthCacheTTL Duration `toml:"auth_cache_ttl"`
	// RateMessagesPerMinute and RateRecipientsPerHour limit each login;
	// 0 (the default) is no limit, so an instance's announcement to every
	// user is never slowed.
	RateMessagesPerMinute int `toml:"rate_messages_per_minute"`
	RateRecipientsPerHour int `toml:"rate_recipients_per_hour"`
}

// Domain is a sending domain the relay signs for.
type Domain struct {
	Name string `toml:"name"`
}

// Delivery configures how queued mail leaves the relay.
type Delivery struct {
	Mode                        string   `toml:"mode"`
	Port                        int      `toml:"port"`
	Smarthost                   string   `toml:"smarthost"`
	Outbox                      string   `toml:"outbox"`
	SmarthostUser               string   `toml:"smarthost_user"`
	SmarthostPasswordFile       string   `toml:"smarthost_password_file"`
	SmarthostTLS                string   `toml:"smarthost_tls"`
	SmarthostInsecureSkipVerify bool     `toml:"smarthost_insecure_skip_verify"`
	EgressIPs                   []string `toml:"egress_ips"`
	SPFPolicy                   string   `toml:"spf_policy"`
	MaxLifetime                 Duration `toml:"max_lifetime"`
	RetryMin                    Duration `toml:"retry_min"`
	RetryMax                    Duration `toml:"retry_max"`
	Workers                     int      `toml:"workers"`
	MaxPerDomain                int      `toml:"max_per_domain"`
	ConnectTimeout              Duration `toml:"connect_timeout"`
	CommandTimeout              Duration `toml:"command_timeout"`
}

// DNS configures the resolver used for MX, SPF, DKIM and DMARC lookups.
type DNS struct {
	Servers []string `toml:"servers"`
	Timeout Duration `toml:"timeout"`
}

// Keys configures the DKIM key life cycle.
type Keys struct {
	RetireAfter Duration `toml:"retire_after"`
	// RotateAfter is how long a key signs before `keys rotate` starts
	// replacing it. M3AAWG's DKIM key rotation best practices ask for a
	// new key at least twice a year; the default is 90 days.
	RotateAfter Duration `toml:"rotate_after"`
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
	TTL Duration `toml:"ttl"`
	// Timeout bounds one update exchange.
	Timeout Duration `toml:"timeout"`
}

// Enabled reports whether dynamic updates are configured.
func (p Publish) Enabled() bool { return p.Server != "" }

// TSIGAlgorithms are the tsig_algorithm values accepted: the HMACs of RFC
// 8945 section 6 that servers still implement (HMAC-MD5 is deprecated).
var TSIGAlgorithms = []string{"hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1"}

// Log configures the JSON event log.
type Log struct {
	File  string `toml:"file"`
	Level string `toml:"level"`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	Listen string `toml:"listen"`
}

// Duration is a time.Duration written in Go syntax ("90s", "120h").
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration (use Go syntax such as \"90s\" or \"120h\")", b)
	}
	if v < 0 {
		return fmt.Errorf("%q is negative", b)
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Defaults returns a Config holding every default value.
func Defaults() *Config {
	return &Config{
		DataDir: "data",
		Submission: Submission{
			Listen:         []string{"127.0.0.1:587"},
			TLSCert:        "tls/cert.pem",
			TLSKey:         "tls/key.pem",
			MaxMessageSize: 25 << 20,
			MaxRecipients:  100,
			MaxHeaderSize:  1 << 20,
			MaxConnections: 200,
			CommandTimeout: Duration{5 * time.Minute},
			PreAuthTimeout: Duration{time.Minute},

			MaxConnectionsPerIP: 50,
			MaxCommandLength:    2048,
			MaxAuthAttempts:     3,
			AuthMaxFailures:     10,
			AuthFailureWindow:   Duration{10 * time.Minute},
			AuthBlock:           Duration{15 * time.Minute},
			AuthFailureDelay:    Duration{time.Second},
			AuthCacheTTL:        Duration{10 * time.Minute},
		},
		Delivery: Delivery{
			Mode:           "mx",
			Port:           25,
			SPFPolicy:      "reject",
			MaxLifetime:    Duration{120 * time.Hour},
			RetryMin:       Duration{time.Minute},
			RetryMax:       Duration{time.Hour},
			Workers:        32,
			MaxPerDomain:   4,
			ConnectTimeout: Duration{30 * time.Second},
			CommandTimeout: Duration{5 * time.Minute},
		},
		DNS: DNS{Timeout: Duration{5 * time.Second}},
		Keys: Keys{
			RetireAfter: Duration{168 * time.Hour},
			RotateAfter: Duration{90 * 24 * time.Hour},
			Publish: Publish{
				TSIGAlgorithm: "hmac-sha256",
				TTL:           Duration{time.Hour},
				Timeout:       Duration{10 * time.Second},
			},
		},
		Log:     Log{Level: "info"},
		Reports: defaultReports(),
	}
}

// Load reads, defaults and validates the config file at path.
func Load(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(abs)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("config file %s does not exist: create one with `dkimrelay init --domain YOUR.DOMAIN` or pass --config", abs)
		}
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(abs, b)
}

// Parse decodes the TOML text b as if read from the file at path.
func Parse(path string, b []byte) (*Config, error) {
	c := Defaults()
	c.Path = path
	md, err := toml.NewDecoder(bytes.NewReader(b)).Decode(c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, describeTOMLError(err))
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("%s: unknown key %s: check its spelling against the README's config reference", path, strings.Join(keys, ", "))
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.resolvePaths()
	return c, nil
}

func describeTOMLError(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		if pe.LastKey != "" {
			return fmt.Errorf("line %d, key %s: %s", pe.Position.Line, pe.LastKey, pe.Message)
		}
		return fmt.Errorf("line %d: %s", pe.Position.Line, pe.Message)
	}
	return err
}

// validate checks every value and names the key that is wrong.
func (c *Config) validate() error {
	if c.Hostname == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			return errors.New("hostname is not set and the system's host name is unknown: set hostname = \"mail.example.org\"")
		}
		c.Hostname = h
	}
	if !validHostname(c.Hostname) {
		return fmt.Errorf("hostname %q is not a valid host name", c.Hostname)
	}
	if c.DataDir == "" {
		return errors.New("data_dir must not be empty")
	}
	s := &c.Submission
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
	if s.CommandTimeout.Duration < time.Second {
		return errors.New("submission.command_timeout must be at least 1s")
	}
	if s.PreAuthTimeout.Duration < time.Second || s.PreAuthTimeout.Duration > s.CommandTimeout.Duration {
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
	if s.AuthFailureWindow.Duration <= 0 || s.AuthBlock.Duration <= 0 {
		return errors.New("submission.auth_failure_window and submission.auth_block must be positive")
	}
	if s.AuthCacheTTL.Duration < 0 || s.AuthCacheTTL.Duration > 24*time.Hour {
		return fmt.Errorf("submission.auth_cache_ttl = %s must be between 0 (off) and 24h", s.AuthCacheTTL.Duration)
	}
	if s.RateMessagesPerMinute < 0 || s.RateRecipientsPerHour < 0 {
		return errors.New("submission.rate_messages_per_minute and rate_recipients_per_hour must be 0 (no limit) or positive")
	}
	seen := map[string]bool{}
	for i, d := range c.Domains {
		n := strings.ToLower(strings.TrimSuffix(d.Name, "."))
		if !validHostname(n) {
			return fmt.Errorf("domains[%d].name %q is not a valid domain", i, d.Name)
		}
		if seen[n] {
			return fmt.Errorf("domains[%d].name %q is listed twice", i, d.Name)
		}
		seen[n] = true
		c.Domains[i].Name = n
	}
	dl := &c.Delivery
	switch dl.Mode {
	case "mx":
		if dl.Port < 1 || dl.Port > 65535 {
			return fmt.Errorf("delivery.port = %d is not a port number", dl.Port)
		}
	case "smarthost":
		if err := checkHostPort(dl.Smarthost); err != nil {
			return fmt.Errorf("delivery.smarthost: %w (smarthost mode needs host:port)", err)
		}
		if (dl.SmarthostUser == "") != (dl.SmarthostPasswordFile == "") {
			return errors.New("delivery.smarthost_user and delivery.smarthost_password_file go together: set both or neither")
		}
	case "outbox":
		if dl.Outbox == "" {
			return errors.New("delivery.outbox is not set: outbox mode writes each message to a file in that folder")
		}
	default:
		return fmt.Errorf("delivery.mode = %q: use \"mx\", \"smarthost\" or \"outbox\"", dl.Mode)
	}
	switch dl.SmarthostTLS {
	case "", "implicit", "starttls":
	default:
		return fmt.Errorf("delivery.smarthost_tls = %q: use \"implicit\" or \"starttls\"", dl.SmarthostTLS)
	}
	for _, ip := range dl.EgressIPs {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("delivery.egress_ips: %q is not an IP address", ip)
		}
	}
	switch dl.SPFPolicy {
	case "reject", "warn", "off":
	default:
		return fmt.Errorf("delivery.spf_policy = %q: use \"reject\", \"warn\" or \"off\"", dl.SPFPolicy)
	}
	if dl.MaxLifetime.Duration < time.Second {
		return errors.New("delivery.max_lifetime must be at least 1s")
	}
	if dl.RetryMin.Duration <= 0 || dl.RetryMax.Duration < dl.RetryMin.Duration {
		return errors.New("delivery.retry_min must be positive and delivery.retry_max at least retry_min")
	}
	if dl.Workers < 1 {
		return fmt.Errorf("delivery.workers = %d must be at least 1", dl.Workers)
	}
	if dl.MaxPerDomain < 1 {
		return fmt.Errorf("delivery.max_per_domain = %d must be at least 1", dl.MaxPerDomain)
	}
	if dl.ConnectTimeout.Duration <= 0 || dl.CommandTimeout.Duration <= 0 {
		return errors.New("delivery.connect_timeout and delivery.command_timeout must be positive")
	}
	for _, a := range c.DNS.Servers {
		if err := checkHostPort(a); err != nil {
			return fmt.Errorf("dns.servers: %w (write \"IP:53\")", err)
		}
	}
	if c.DNS.Timeout.Duration <= 0 {
		return errors.New("dns.timeout must be positive")
	}
	// Messages are signed when accepted: a key that leaves DNS while a
	// message signed with it still waits in the queue would fail DKIM at
	// the receiver.
	if c.Keys.RetireAfter.Duration < dl.MaxLifetime.Duration {
		return fmt.Errorf("keys.retire_after (%s) is shorter than delivery.max_lifetime (%s): a retired key must stay published as long as a message signed with it can wait in the queue", c.Keys.RetireAfter, dl.MaxLifetime)
	}
	if err := c.Keys.validate(); err != nil {
		return err
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level = %q: use \"debug\", \"info\", \"warn\" or \"error\"", c.Log.Level)
	}
	if c.Metrics.Listen != "" {
		if err := checkHostPort(c.Metrics.Listen); err != nil {
			return fmt.Errorf("metrics.listen: %w", err)
		}
	}
	return c.Reports.validate()
}

// validate checks the [keys] values other than retire_after, which is
// checked against delivery.max_lifetime.
func (k *Keys) validate() error {
	if k.RotateAfter.Duration <= 0 {
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
	if p.TTL.Duration < time.Second || p.TTL.Duration > 24*time.Hour || p.TTL.Duration%time.Second != 0 {
		return fmt.Errorf("keys.publish.ttl = %s: use whole seconds between 1s and 24h", p.TTL)
	}
	if p.Timeout.Duration <= 0 {
		return errors.New("keys.publish.timeout must be positive")
	}
	return nil
}

// resolvePaths makes every file path absolute, relative to the config's folder.
func (c *Config) resolvePaths() {
	base := filepath.Dir(c.Path)
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	abs(&c.DataDir)
	abs(&c.Submission.TLSCert)
	abs(&c.Submission.TLSKey)
	abs(&c.Delivery.SmarthostPasswordFile)
	abs(&c.Delivery.Outbox)
	abs(&c.Log.File)
	abs(&c.Keys.Publish.TSIGSecretFile)
	c.Reports.resolvePaths(abs)
}

// HasDomain reports whether name is one of the configured sending domains.
func (c *Config) HasDomain(name string) bool {
	name = strings.ToLower(name)
	for _, d := range c.Domains {
		if d.Name == name {
			return true
		}
	}
	return false
}

// KeysDir, QueueDir, UsersFile and ControlSocket name the files kept in data_dir.
func (c *Config) KeysDir() string       { return filepath.Join(c.DataDir, "keys") }
func (c *Config) QueueDir() string      { return filepath.Join(c.DataDir, "queue") }
func (c *Config) UsersFile() string     { return filepath.Join(c.DataDir, "users.toml") }
func (c *Config) ControlSocket() string { return filepath.Join(c.DataDir, "control.sock") }

func checkHostPort(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("%q is not host:port", a)
	}
	if port == "" {
		return fmt.Errorf("%q has no port", a)
	}
	_ = host // an empty host means every address, which net.Listen accepts
	return nil
}

// validHostname checks the RFC 1123 host name syntax.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
