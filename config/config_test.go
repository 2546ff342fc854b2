package config

import (
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseDefaults(t *testing.T) {
	c, err := Parse("/etc/dkimrelay/dkimrelay.toml", []byte(`hostname = "mail.example.org"
[[domains]]
name = "Example.ORG."
`))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"data_dir resolves against the config folder", c.DataDir, "/etc/dkimrelay/data"},
		{"tls_cert", c.Submission.TLSCert, "/etc/dkimrelay/tls/cert.pem"},
		{"listen", c.Submission.Listen, []string{"127.0.0.1:587"}},
		{"max_message_size", c.Submission.MaxMessageSize, int64(26214400)},
		{"max_recipients", c.Submission.MaxRecipients, 100},
		{"mode", c.Delivery.Mode, ModeMX},
		{"port", c.Delivery.Port, 25},
		{"spf_policy", c.Delivery.SPFPolicy, SPFReject},
		{"max_lifetime", c.Delivery.MaxLifetime, 120 * time.Hour},
		{"retire_after", c.Keys.RetireAfter, 168 * time.Hour},
		{"rotate_after", c.Keys.RotateAfter, 90 * 24 * time.Hour},
		{"publish off", c.Keys.Publish.Enabled(), false},
		{"tsig_algorithm", c.Keys.Publish.TSIGAlgorithm, "hmac-sha256"},
		{"publish ttl", c.Keys.Publish.TTL, time.Hour},
		{"domain normalised", c.Domains[0].Name, "example.org"},
		{"keys dir", c.KeysDir(), "/etc/dkimrelay/data/keys"},
	}
	for _, ch := range checks {
		if !equal(ch.got, ch.want) {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	if !c.HasDomain("EXAMPLE.org") || c.HasDomain("example.net") {
		t.Error("HasDomain is wrong")
	}
}

func equal(a, b any) bool {
	if as, ok := a.([]string); ok {
		bs := b.([]string)
		return strings.Join(as, ",") == strings.Join(bs, ",")
	}
	return a == b
}

func TestParseErrors(t *testing.T) {
	base := "hostname = \"mail.example.org\"\n"
	publish := "[keys.publish]\nserver = \"127.0.0.1:53\"\ntsig_key_name = \"dkimrelay.\"\ntsig_secret_file = \"tsig.key\"\n"
	cases := []struct {
		name, text, want string
	}{
		{"unknown top-level key", base + "hostnme = \"x\"\n", "unknown key hostnme"},
		{"unknown nested key", base + "[delivery]\nmod = \"mx\"\n", "unknown key delivery.mod"},
		{"bad duration", base + "[delivery]\nmax_lifetime = \"5 days\"\n", "max_lifetime"},
		{"duration without a unit", base + "[delivery]\nretry_min = 60\n", "delivery.retry_min is not a duration"},
		{"negative duration", base + "[submission]\nauth_failure_delay = \"-1s\"\n", "submission.auth_failure_delay = -1s is negative"},
		{"nested duration without a unit", base + publish + "timeout = 10\n", "keys.publish.timeout is not a duration"},
		{"bad smarthost tls", base + "[delivery]\nmode = \"smarthost\"\nsmarthost = \"smtp.example.net:587\"\nsmarthost_tls = \"none\"\n", "delivery.smarthost_tls"},
		{"opportunistic smarthost with a login", base + "[delivery]\nmode = \"smarthost\"\nsmarthost = \"smtp.example.net:25\"\nsmarthost_tls = \"opportunistic\"\nsmarthost_user = \"relay\"\nsmarthost_password_file = \"pw\"\n", "plaintext"},
		{"smarthost without port", base + "[delivery]\nmode = \"smarthost\"\nsmarthost = \"smtp.example\"\n", "delivery.smarthost"},
		{"bad mta_sts_port", base + "[delivery]\nmta_sts_port = 0\n", "delivery.mta_sts_port"},
		{"bad require_tls_domains", base + "[delivery]\nrequire_tls_domains = [\"not a domain\"]\n", "delivery.require_tls_domains"},
		{"smarthost without host", base + "[delivery]\nmode = \"smarthost\"\nsmarthost = \":587\"\n", "delivery.smarthost"},
		{"log level between names", base + "[log]\nlevel = \"info+2\"\n", "log.level"},
		{"bad mode", base + "[delivery]\nmode = \"lmtp\"\n", "delivery.mode"},
		{"bad spf policy", base + "[delivery]\nspf_policy = \"strict\"\n", "delivery.spf_policy"},
		{"outbox without folder", base + "[delivery]\nmode = \"outbox\"\n", "delivery.outbox"},
		{"smarthost without address", base + "[delivery]\nmode = \"smarthost\"\n", "delivery.smarthost"},
		{"smarthost user without password", base + "[delivery]\nmode = \"smarthost\"\nsmarthost = \"smtp.example.net:587\"\nsmarthost_user = \"u\"\n", "smarthost_password_file"},
		{"bad listen", base + "[submission]\nlisten = [\"587\"]\n", "submission.listen"},
		{"no listeners", base + "[submission]\nlisten = []\n", "both empty"},
		{"bad egress ip", base + "[delivery]\negress_ips = [\"1.2.3\"]\n", "egress_ips"},
		{"bad dns server", base + "[dns]\nservers = [\"127.0.0.1\"]\n", "dns.servers"},
		{"wrong type", base + "[submission]\nmax_recipients = \"many\"\n", "max_recipients"},
		{"retire shorter than lifetime", base + "[keys]\nretire_after = \"24h\"\n", "keys.retire_after"},
		{"bad domain", base + "[[domains]]\nname = \"exa mple.org\"\n", "domains[0].name"},
		{"duplicate domain", base + "[[domains]]\nname = \"a.org\"\n[[domains]]\nname = \"A.org\"\n", "listed twice"},
		{"bad hostname", "hostname = \"mail_example\"\n", "hostname"},
		{"syntax error", base + "[delivery\n", "line"},
		{"retry order", base + "[delivery]\nretry_min = \"2h\"\n", "retry_max"},
		{"bad log level", base + "[log]\nlevel = \"verbose\"\n", "log.level"},
		{"metrics password without listen", base + "[metrics]\npassword_file = \"metrics.pass\"\n", "metrics.listen is not"},
		{"zero rotate_after", base + "[keys]\nrotate_after = \"0s\"\n", "keys.rotate_after"},
		{"unknown publish key", base + publish + "tsig_secret = \"abc\"\n", "unknown key keys.publish.tsig_secret"},
		{"publish without server", base + "[keys.publish]\nzone = \"example.org\"\n", "keys.publish.server"},
		{"publish bad server", strings.Replace(base+publish, "127.0.0.1:53", "ns1.example.org", 1), "keys.publish.server"},
		{"publish without tsig", base + "[keys.publish]\nserver = \"127.0.0.1:53\"\n", "keys.publish.tsig_key_name"},
		{"publish bad algorithm", base + publish + "tsig_algorithm = \"hmac-md5\"\n", "keys.publish.tsig_algorithm"},
		{"publish bad zone", base + publish + "zone = \"exa mple.org\"\n", "keys.publish.zone"},
		{"publish bad key name", strings.Replace(base+publish, "dkimrelay.", "dkim relay", 1), "keys.publish.tsig_key_name"},
		{"publish zero ttl", base + publish + "ttl = \"0s\"\n", "keys.publish.ttl"},
		{"publish fractional ttl", base + publish + "ttl = \"1500ms\"\n", "keys.publish.ttl"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("/x/dkimrelay.toml", []byte(tc.text))
			if err == nil {
				t.Fatalf("no error for %q", tc.text)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "/x/dkimrelay.toml") {
				t.Errorf("error %q should name %q and the file", err, tc.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.toml")); err == nil || !strings.Contains(err.Error(), "dkimrelay init") {
		t.Errorf("missing file: %v", err)
	}
	p := filepath.Join(dir, "c.toml")
	os.WriteFile(p, []byte("hostname = \"h.example\"\ndata_dir = \"/var/lib/dkimrelay\"\n[log]\nfile = \"relay.log\"\n"), 0o644)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/var/lib/dkimrelay" || c.Log.File != filepath.Join(dir, "relay.log") {
		t.Errorf("paths: %q %q", c.DataDir, c.Log.File)
	}
}

func TestParsePublish(t *testing.T) {
	c, err := Parse("/etc/dkimrelay/dkimrelay.toml", []byte(`hostname = "mail.example.org"
[keys]
rotate_after = "720h"
[keys.publish]
server = "[::1]:5353"
zone = "Example.ORG."
tsig_key_name = "dkimrelay-update"
tsig_algorithm = "HMAC-SHA512."
tsig_secret_file = "tsig.key"
ttl = "5m"
`))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Keys.Publish
	checks := []struct {
		name      string
		got, want any
	}{
		{"enabled", p.Enabled(), true},
		{"rotate_after", c.Keys.RotateAfter, 720 * time.Hour},
		{"server", p.Server, "[::1]:5353"},
		{"zone normalised", p.Zone, "example.org"},
		{"algorithm normalised", p.TSIGAlgorithm, "hmac-sha512"},
		{"secret file resolves against the config folder", p.TSIGSecretFile, "/etc/dkimrelay/tsig.key"},
		{"ttl", p.TTL, 5 * time.Minute},
		{"timeout default", p.Timeout, 10 * time.Second},
	}
	for _, ch := range checks {
		if !equal(ch.got, ch.want) {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

// TestParseTyped: values come out typed and defaulted once, here.
func TestParseTyped(t *testing.T) {
	c, err := Parse("/etc/dkimrelay/dkimrelay.toml", []byte(`hostname = "mail.example.org"
[delivery]
mode = "smarthost"
smarthost = "smtp.example.net:465"
egress_ips = ["192.0.2.25", "2001:db8::25"]
spf_policy = "warn"
retry_min = "90s"
[log]
level = "warn"
`))
	if err != nil {
		t.Fatal(err)
	}
	d := c.Delivery
	if d.Mode != ModeSmarthost || d.SPFPolicy != SPFWarn || d.RetryMin != 90*time.Second {
		t.Errorf("mode %q, spf_policy %q, retry_min %s", d.Mode, d.SPFPolicy, d.RetryMin)
	}
	want := []netip.Addr{netip.MustParseAddr("192.0.2.25"), netip.MustParseAddr("2001:db8::25")}
	if !slices.Equal(d.EgressIPs, want) {
		t.Errorf("egress_ips = %v, want %v", d.EgressIPs, want)
	}
	if c.Log.Level != slog.LevelWarn {
		t.Errorf("log.level = %v", c.Log.Level)
	}
	for port, mode := range map[string]SmarthostTLS{"465": TLSImplicit, "587": TLSStartTLS, "25": TLSStartTLS} {
		c, err := Parse("/x.toml", []byte("hostname = \"h.example\"\n[delivery]\nmode = \"smarthost\"\nsmarthost = \"smtp.example.net:"+port+"\"\n"))
		if err != nil || c.Delivery.SmarthostTLS != mode {
			t.Errorf("port %s: smarthost_tls %q (%v), want %q", port, c.Delivery.SmarthostTLS, err, mode)
		}
		if h, p := c.Delivery.SmarthostHostPort(); h != "smtp.example.net" || p != port {
			t.Errorf("SmarthostHostPort = %q, %q", h, p)
		}
	}
}
