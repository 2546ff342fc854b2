package integration

import (
	"fmt"
	"strings"
)

// relayConfig is what a test sets in dkimrelay.toml. The harness writes the
// whole file from it (see render) instead of patching what init wrote, so
// every test states exactly the settings it runs with.
type relayConfig struct {
	Hostname       string
	Listen         string // STARTTLS listener, 127.0.0.1:port
	ListenTLS      string // implicit-TLS listener, 127.0.0.1:port
	MaxMessageSize int64
	MaxRecipients  int
	Domains        []string

	Delivery deliveryConfig
	DNS      string // the test DNS server
	// Tables are further TOML tables, appended as written.
	Tables string
}

type deliveryConfig struct {
	Mode                  string // "mx", "smarthost" or "outbox"
	Outbox                string // the folder in outbox mode
	Port                  int    // the sinks' port in mx mode
	Smarthost             string
	SmarthostUser         string
	SmarthostPasswordFile string
	SmarthostTLS          string
	InsecureSkipVerify    bool
	RetryMin, RetryMax    string
	// DenyInternal leaves delivery.allow_internal off, as it is by
	// default; the rig turns it on, since its sinks listen on 127.0.0.x.
	DenyInternal bool
	Extra        string // further [delivery] lines, as TOML
}

func defaultConfig() relayConfig {
	return relayConfig{
		Hostname:       "mail.example.org",
		MaxMessageSize: 26214400,
		MaxRecipients:  100,
		Domains:        []string{"example.org"},
		Delivery: deliveryConfig{
			Mode:     "mx",
			RetryMin: "1s",
			RetryMax: "2s",
		},
	}
}

// render writes the TOML text. Paths are relative to the config's folder,
// which is how init lays out the directory.
func (c relayConfig) render() string {
	var b strings.Builder
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	fmt.Fprintf(&b, "hostname = %s\n", q(c.Hostname))
	fmt.Fprintf(&b, "data_dir = %s\n\n", q("data"))

	fmt.Fprintf(&b, "[submission]\n")
	fmt.Fprintf(&b, "listen = [%s]\n", q(c.Listen))
	fmt.Fprintf(&b, "listen_tls = [%s]\n", q(c.ListenTLS))
	fmt.Fprintf(&b, "tls_cert = %s\n", q("tls/cert.pem"))
	fmt.Fprintf(&b, "tls_key = %s\n", q("tls/key.pem"))
	fmt.Fprintf(&b, "allow_insecure_auth = false\n")
	fmt.Fprintf(&b, "max_message_size = %d\n", c.MaxMessageSize)
	fmt.Fprintf(&b, "max_recipients = %d\n\n", c.MaxRecipients)

	for _, d := range c.Domains {
		fmt.Fprintf(&b, "[[domains]]\nname = %s\n\n", q(d))
	}

	d := c.Delivery
	fmt.Fprintf(&b, "[delivery]\n")
	fmt.Fprintf(&b, "mode = %s\n", q(d.Mode))
	if d.Outbox != "" {
		fmt.Fprintf(&b, "outbox = %s\n", q(d.Outbox))
	}
	fmt.Fprintf(&b, "port = %d\n", d.Port)
	fmt.Fprintf(&b, "smarthost = %s\n", q(d.Smarthost))
	fmt.Fprintf(&b, "smarthost_user = %s\n", q(d.SmarthostUser))
	fmt.Fprintf(&b, "smarthost_password_file = %s\n", q(d.SmarthostPasswordFile))
	fmt.Fprintf(&b, "smarthost_tls = %s\n", q(d.SmarthostTLS))
	fmt.Fprintf(&b, "smarthost_insecure_skip_verify = %t\n", d.InsecureSkipVerify)
	// SPF checking of the egress IP is a later feature; these tests run on
	// loopback where no SPF record could name the address anyway.
	fmt.Fprintf(&b, "spf_policy = %s\n", q("off"))
	fmt.Fprintf(&b, "max_lifetime = %s\n", q("120h"))
	fmt.Fprintf(&b, "retry_min = %s\n", q(d.RetryMin))
	fmt.Fprintf(&b, "retry_max = %s\n", q(d.RetryMax))
	fmt.Fprintf(&b, "allow_internal = %t\n", !d.DenyInternal)
	fmt.Fprintf(&b, "%s\n", d.Extra)

	fmt.Fprintf(&b, "[dns]\nservers = [%s]\n\n", q(c.DNS))
	fmt.Fprintf(&b, "[keys]\nretire_after = %s\n\n", q("168h"))
	fmt.Fprintf(&b, "[log]\nfile = %s\n", q("relay.log"))
	if c.Tables != "" {
		fmt.Fprintf(&b, "\n%s\n", c.Tables)
	}
	return b.String()
}
