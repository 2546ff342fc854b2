package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Delivery configures how queued mail leaves the relay.
type Delivery struct {
	Mode      DeliveryMode `toml:"mode"`
	Port      int          `toml:"port"` // the MX's port in mx mode
	Smarthost string       `toml:"smarthost"`
	// Outbox is the folder outbox mode writes each message into.
	Outbox                string `toml:"outbox"`
	SmarthostUser         string `toml:"smarthost_user"`
	SmarthostPasswordFile string `toml:"smarthost_password_file"`
	// SmarthostTLS is how the smarthost's connection is secured: left
	// out of the file, implicit TLS for port 465 and STARTTLS for any
	// other (validate fills it in).
	SmarthostTLS                SmarthostTLS  `toml:"smarthost_tls"`
	SmarthostInsecureSkipVerify bool          `toml:"smarthost_insecure_skip_verify"`
	EgressIPs                   []netip.Addr  `toml:"egress_ips"`
	SPFPolicy                   SPFPolicy     `toml:"spf_policy"`
	MaxLifetime                 time.Duration `toml:"max_lifetime"`
	RetryMin                    time.Duration `toml:"retry_min"`
	RetryMax                    time.Duration `toml:"retry_max"`
	Workers                     int           `toml:"workers"`
	MaxPerDomain                int           `toml:"max_per_domain"`
	ConnectTimeout              time.Duration `toml:"connect_timeout"`
	CommandTimeout              time.Duration `toml:"command_timeout"`
	// ShutdownTimeout is how long the delivery attempts in flight at
	// SIGTERM may go on; then they stop and their recipients stay
	// queued, deferred. It stays below the systemd unit's
	// TimeoutStopSec (contrib/systemd) with room for the rest of the
	// stop.
	ShutdownTimeout time.Duration `toml:"shutdown_timeout"`
	// MTASTS honours receiving domains' MTA-STS policies (RFC 8461):
	// mail to a domain in enforce mode goes only to its listed MX hosts,
	// over TLS with a verified certificate. Policies are kept in
	// DATA_DIR/mta-sts.
	MTASTS bool `toml:"mta_sts"`
	// DANE honours TLSA records (RFC 7672) of MX hosts whose MX, address
	// and TLSA answers the resolver validated with DNSSEC.
	DANE bool `toml:"dane"`
	// MTASTSPort is the port of https://mta-sts.DOMAIN/ (tests move it).
	MTASTSPort int `toml:"mta_sts_port"`
	// TLSCAFile holds PEM roots trusted besides the system's, for policy
	// fetches and every verified TLS session (the smarthost, MTA-STS).
	TLSCAFile string `toml:"tls_ca_file"`
	// RequireTLSDomains get verified TLS (a certificate valid for the MX
	// host's name from a trusted root) or nothing, whatever they publish.
	RequireTLSDomains []string `toml:"require_tls_domains"`
	// SuppressAfterBounce is how long a recipient whose server said the
	// mailbox does not exist (5.1.x, a null MX) is not delivered to; 0
	// adds no suppressions (docs/deliverability.md).
	SuppressAfterBounce time.Duration `toml:"suppress_after_bounce"`
	// AllowInternal lets mx mode deliver to loopback, private and
	// link-local addresses: MX and address targets, and address literals
	// (user@[10.0.0.5]). Off, such recipients are refused at RCPT and
	// such MX targets skipped, so that a login cannot reach the mail
	// servers that trust the relay's network. Test rigs, whose sinks
	// listen on 127.0.0.x, turn it on. A smarthost is the
	// administrator's own choice and never refused.
	AllowInternal bool `toml:"allow_internal"`
	// ProviderRate is messages per minute to each big mailbox provider
	// (Gmail, Outlook, Yahoo, ...; grouped by MX host suffix); 0 is no
	// limit. BulkRate is bulk-class messages per minute to each
	// provider, big or not; 0 is no limit. ProviderConnections caps the
	// deliveries in progress to one big provider. A throttling reply pauses
	// the provider for ProviderPause, doubling up to ProviderPauseMax
	// (docs/deliverability.md).
	ProviderRate        int           `toml:"provider_rate"`
	BulkRate            int           `toml:"bulk_rate"`
	ProviderConnections int           `toml:"provider_connections"`
	ProviderPause       time.Duration `toml:"provider_pause"`
	ProviderPauseMax    time.Duration `toml:"provider_pause_max"`
}

// DeliveryMode is delivery.mode: where mail goes.
type DeliveryMode string

// The delivery modes.
const (
	ModeMX        DeliveryMode = "mx"        // to each domain's MX hosts
	ModeSmarthost DeliveryMode = "smarthost" // all to delivery.smarthost
	ModeOutbox    DeliveryMode = "outbox"    // each to a file in delivery.outbox, for trying the relay out
)

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *DeliveryMode) UnmarshalText(b []byte) error {
	switch v := DeliveryMode(b); v {
	case ModeMX, ModeSmarthost, ModeOutbox:
		*m = v
		return nil
	}
	return fmt.Errorf("delivery.mode = %q: use \"mx\", \"smarthost\" or \"outbox\"", b)
}

// SmarthostTLS is delivery.smarthost_tls: how the smarthost connection is
// encrypted.
type SmarthostTLS string

// The smarthost TLS modes.
const (
	TLSImplicit SmarthostTLS = "implicit" // TLS from the first byte (port 465, RFC 8314)
	TLSStartTLS SmarthostTLS = "starttls" // STARTTLS, required (RFC 3207)
	// TLSOpportunistic uses STARTTLS when the smarthost offers it and
	// sends in plaintext when not (RFC 7435): for a smarthost on the
	// same machine or network that offers no TLS. It cannot go with
	// smarthost_user, whose password would travel in clear.
	TLSOpportunistic SmarthostTLS = "opportunistic"
)

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *SmarthostTLS) UnmarshalText(b []byte) error {
	switch v := SmarthostTLS(b); v {
	case "", TLSImplicit, TLSStartTLS, TLSOpportunistic:
		*t = v
		return nil
	}
	return fmt.Errorf("delivery.smarthost_tls = %q: use \"implicit\", \"starttls\" or \"opportunistic\"", b)
}

// SPFPolicy is delivery.spf_policy: what submission does when the egress
// addresses are not authorized by the sender domain's SPF record.
type SPFPolicy string

// The SPF policies.
const (
	SPFReject SPFPolicy = "reject" // refuse the message with 550 5.7.1
	SPFWarn   SPFPolicy = "warn"   // accept it and log a warning
	SPFOff    SPFPolicy = "off"    // do not check
)

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *SPFPolicy) UnmarshalText(b []byte) error {
	switch v := SPFPolicy(b); v {
	case SPFReject, SPFWarn, SPFOff:
		*p = v
		return nil
	}
	return fmt.Errorf("delivery.spf_policy = %q: use \"reject\", \"warn\" or \"off\"", b)
}

// SmarthostHostPort splits delivery.smarthost; validate has checked it.
func (d *Delivery) SmarthostHostPort() (host, port string) {
	host, port, _ = net.SplitHostPort(d.Smarthost)
	return host, port
}

func (d *Delivery) validate() error {
	switch d.Mode {
	case ModeMX:
		if d.Port < 1 || d.Port > 65535 {
			return fmt.Errorf("delivery.port = %d is not a port number", d.Port)
		}
	case ModeSmarthost:
		if err := checkHostPort(d.Smarthost); err != nil {
			return fmt.Errorf("delivery.smarthost: %w (smarthost mode needs host:port)", err)
		}
		if host, _ := d.SmarthostHostPort(); host == "" {
			return fmt.Errorf("delivery.smarthost %q has no host (smarthost mode needs host:port)", d.Smarthost)
		}
		if (d.SmarthostUser == "") != (d.SmarthostPasswordFile == "") {
			return errors.New("delivery.smarthost_user and delivery.smarthost_password_file go together: set both or neither")
		}
		if d.SmarthostTLS == TLSOpportunistic && d.SmarthostUser != "" {
			return errors.New("delivery.smarthost_tls = \"opportunistic\" may send in plaintext, and smarthost_user's password with it: use \"starttls\" or \"implicit\" with a login")
		}
		if d.SmarthostTLS == "" {
			d.SmarthostTLS = TLSStartTLS
			if _, port := d.SmarthostHostPort(); port == "465" {
				d.SmarthostTLS = TLSImplicit
			}
		}
	case ModeOutbox:
		if d.Outbox == "" {
			return errors.New("delivery.outbox is not set: outbox mode writes each message to a file in that folder")
		}
	default:
		return fmt.Errorf("delivery.mode = %q: use \"mx\", \"smarthost\" or \"outbox\"", d.Mode)
	}
	if d.MaxLifetime < time.Second {
		return errors.New("delivery.max_lifetime must be at least 1s")
	}
	if d.RetryMin <= 0 || d.RetryMax < d.RetryMin {
		return errors.New("delivery.retry_min must be positive and delivery.retry_max at least retry_min")
	}
	if d.Workers < 1 {
		return fmt.Errorf("delivery.workers = %d must be at least 1", d.Workers)
	}
	if d.MaxPerDomain < 1 {
		return fmt.Errorf("delivery.max_per_domain = %d must be at least 1", d.MaxPerDomain)
	}
	if d.ConnectTimeout <= 0 || d.CommandTimeout <= 0 {
		return errors.New("delivery.connect_timeout and delivery.command_timeout must be positive")
	}
	if d.ProviderRate < 0 || d.BulkRate < 0 || d.ProviderConnections < 0 {
		return errors.New("delivery.provider_rate, bulk_rate and provider_connections must be 0 (no limit) or positive")
	}
	if d.ProviderPause <= 0 || d.ProviderPauseMax < d.ProviderPause {
		return errors.New("delivery.provider_pause must be positive and delivery.provider_pause_max at least as long")
	}
	if d.SuppressAfterBounce < 0 {
		return fmt.Errorf("delivery.suppress_after_bounce = %s must be 0 (off) or positive", d.SuppressAfterBounce)
	}
	if d.ShutdownTimeout <= 0 {
		return errors.New("delivery.shutdown_timeout must be positive: it bounds how long a stop waits for deliveries in progress (default 30s)")
	}
	if d.MTASTSPort < 1 || d.MTASTSPort > 65535 {
		return fmt.Errorf("delivery.mta_sts_port = %d is not a port number", d.MTASTSPort)
	}
	for i, dom := range d.RequireTLSDomains {
		n := strings.ToLower(strings.TrimSuffix(dom, "."))
		if !validHostname(n) {
			return fmt.Errorf("delivery.require_tls_domains: %q is not a domain name", dom)
		}
		d.RequireTLSDomains[i] = n
	}
	return nil
}
