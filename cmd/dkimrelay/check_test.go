package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"dkimrelay/config"
	"dkimrelay/internal/testkit"
	"dkimrelay/keys"
	"dkimrelay/resolver/dnstest"
)

// checkEnv is a config for example.org whose DNS is a dnstest server and
// whose "port 25" is a greeting sink on loopback: `check` never reaches
// past the machine in tests.
type checkEnv struct {
	t      *testing.T
	config string
	dns    *dnstest.Server
}

func newCheckEnv(t *testing.T) *checkEnv {
	t.Helper()
	t.Setenv("DKIMRELAY_CONFIG", "")
	srv := dnstest.NewServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Greets like an SMTP server, for the port 25 probe.
	testkit.ServeRaw(t, ln, func(c net.Conn) { fmt.Fprintf(c, "220 sink.probe.test ESMTP\r\n") })
	dir := t.TempDir()
	path := filepath.Join(dir, "dkimrelay.toml")
	text := fmt.Sprintf(`hostname = "mail.example.org"
data_dir = "data"

[[domains]]
name = "example.org"

[delivery]
port = %d
egress_ips = ["192.0.2.10"]

[dns]
servers = [%q]
timeout = "2s"
`, ln.Addr().(*net.TCPAddr).Port, srv.Addr())
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := keys.Open(cfg.KeysDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	k, err := st.Generate("example.org", keys.RSA2048, "", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Activate("example.org", k.Selector, now); err != nil {
		t.Fatal(err)
	}
	zone, err := k.Zone()
	if err != nil {
		t.Fatal(err)
	}
	rev, _ := dns.ReverseAddr("192.0.2.10")
	srv.AddZone(zone + `
example.org. TXT "v=spf1 ip4:192.0.2.10 -all"
example.org. MX 10 mx.example.org.
mx.example.org. A 192.0.2.20
mail.example.org. A 192.0.2.10
` + rev + ` PTR mail.example.org.
probe.test. MX 10 sink.probe.test.
sink.probe.test. A 127.0.0.1
`)
	return &checkEnv{t: t, config: path, dns: srv}
}

func (c *checkEnv) run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	code := run(e, append([]string{"--config", c.config, "check", "--probe-domain", "probe.test"}, args...))
	return code, out.String(), errb.String()
}

func TestCheckCommand(t *testing.T) {
	c := newCheckEnv(t)
	// No DMARC record yet: a required check fails.
	code, out, stderr := c.run("--domain", "example.org")
	if code != exitFail || !strings.Contains(out, "fail     dmarc") || !strings.Contains(out, `_dmarc.example.org. IN TXT "v=DMARC1; p=none; rua=mailto:postmaster@example.org"`) {
		t.Errorf("without DMARC: exit %d\n%s", code, out)
	}
	if !strings.Contains(stderr, "a required check of example.org failed") {
		t.Errorf("stderr %q does not say what failed", stderr)
	}
	c.dns.Add(`_dmarc.example.org. 300 IN TXT "v=DMARC1; p=quarantine; rua=mailto:d@example.org"`)
	code, out, stderr = c.run("--domain", "Example.ORG.")
	if code != exitOK || strings.Contains(out, "fail ") || stderr != "" {
		t.Errorf("healthy: exit %d, stderr %q\n%s", code, stderr, out)
	}
	for _, want := range []string{"pass     spf-ip       192.0.2.10 may send for example.org", "pass     port25", "pass     rdns", "pass     dkim         active key"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	code, out, _ = c.run("--domain", "example.org", "--json", "--no-probe")
	var report struct {
		Domain string `json:"domain"`
		OK     bool   `json:"ok"`
		Checks []struct {
			Check, Status string
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil || code != exitOK || !report.OK || report.Domain != "example.org" {
		t.Fatalf("--json: exit %d, %v\n%s", code, err, out)
	}
	for _, ch := range report.Checks {
		if ch.Check == "port25" && ch.Status != "info" {
			t.Errorf("--no-probe: port25 is %s", ch.Status)
		}
	}
}

func TestCheckUsage(t *testing.T) {
	c := newCheckEnv(t)
	for _, args := range [][]string{{}, {"--domain"}, {"--domain", "example.org", "extra"}, {"--bogus"}} {
		if code, _, stderr := c.run(args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d (%s)", args, code, exitUsage, stderr)
		}
	}
	code, _, stderr := c.run("--domain", "other.example", "--no-probe")
	if code != exitFail || !strings.Contains(stderr, "other.example is not in the config's [[domains]]") {
		t.Errorf("unknown domain: exit %d, stderr %q", code, stderr)
	}
}
