package integration

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"dkimrelay/internal/testkit"
)

// TestSwaksSubmission is the administrator's path end to end: init, publish
// the printed key, activate it with the relay's own DNS check (no --force),
// add the Mastodon login, serve, and submit with swaks over STARTTLS with
// AUTH PLAIN, the way Mastodon's ActionMailer does. The delivered message
// must verify in all three verifiers.
//
// Unlike the other tests this one keeps the config init wrote and only
// points it at the test peers, so init's output is itself under test.
func TestSwaksSubmission(t *testing.T) {
	t.Parallel()
	requireTool(t, swaksPath, "swaks", "swaks")
	w := newWorld(t)
	sinks := newSinkPair(t)
	r := &relay{t: t, dir: t.TempDir(), world: w, sinks: sinks, passwords: map[string]string{}}
	r.config = filepath.Join(r.dir, "dkimrelay.toml")

	listen := "127.0.0.1:" + testkit.FreePort(t, "127.0.0.1")
	out := r.init(listen)
	for _, want := range []string{"_domainkey.example.org", "SMTP_SERVER", "SMTP_PORT", "SMTP_LOGIN", "SMTP_FROM_ADDRESS"} {
		if !strings.Contains(out, want) {
			t.Errorf("init output does not mention %s:\n%s", want, out)
		}
	}
	r.cfg = pointAtTestbed(t, r.config, w, sinks)
	if r.cfg.Listen != listen {
		t.Fatalf("init wrote submission.listen %q, want %q from --listen", r.cfg.Listen, listen)
	}
	t.Cleanup(r.cleanup)

	var pending []keyInfo
	for _, k := range r.keys() {
		if k.Domain == "example.org" && k.State == "pending" {
			pending = append(pending, k)
		}
	}
	if len(pending) != 1 || !strings.HasPrefix(strings.ToLower(pending[0].Algorithm), "rsa") {
		t.Fatalf("after init, keys list shows %+v; want one pending RSA key for example.org", r.keys())
	}
	r.publishAndActivate(pending[0], false)
	r.addUser(userFull, "notifications@example.org", "@example.org")
	r.start()

	cmd := exec.Command(swaksPath,
		"--server", r.cfg.Listen, "--tls", "--auth", "PLAIN",
		"--auth-user", userFull,
		"--ehlo", "mastodon.example.org",
		"--from", "notifications@example.org", "--to", "alice@example.net",
		"--header", "Subject: swaks end to end",
		"--header", "X-Test-ID: swaks",
		"--body", "Sent by swaks.",
		"--timeout", "30")
	// The password goes through the environment, never argv.
	cmd.Env = append(os.Environ(), "SWAKS_OPT_auth_password="+r.password(userFull))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("swaks: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	m := queuedAs.FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("swaks transcript has no \"queued as QID\":\n%s", stdout.String())
	}
	qid := m[1]

	got := sinks.waitForTestID(t, deliveryTimeout, "swaks")
	verifyDKIM(t, w, got.Data, algRSA)
	r.waitEvent(t, 10*time.Second, "delivered", forQID(qid, "alice@example.net"))
}

// pointAtTestbed edits the config init wrote: the test DNS, the sinks'
// port, fast retries, SPF off, a log file and an implicit-TLS listener. All
// else stays as init made it.
func pointAtTestbed(t *testing.T, path string, w *world, sinks *sinkPair) relayConfig {
	t.Helper()
	var doc map[string]any
	if _, err := toml.DecodeFile(path, &doc); err != nil {
		t.Fatalf("the config init wrote does not parse: %v", err)
	}
	section := func(name string) map[string]any {
		s, ok := doc[name].(map[string]any)
		if !ok {
			s = map[string]any{}
			doc[name] = s
		}
		return s
	}
	sub := section("submission")
	listenTLS := "127.0.0.1:" + testkit.FreePort(t, "127.0.0.1")
	sub["listen_tls"] = []string{listenTLS}
	del := section("delivery")
	del["mode"] = "mx"
	del["port"] = sinks.Port
	del["spf_policy"] = "off"
	del["retry_min"] = "1s"
	del["retry_max"] = "2s"
	// The sinks listen on 127.0.0.x.
	del["allow_internal"] = true
	section("dns")["servers"] = []string{w.addr()}
	section("log")["file"] = "relay.log"

	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(doc); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	var listen string
	switch l := sub["listen"].(type) {
	case []any:
		if len(l) == 1 {
			listen, _ = l[0].(string)
		}
	}
	if _, _, err := net.SplitHostPort(listen); err != nil {
		t.Fatalf("init wrote submission.listen = %v, want one address", sub["listen"])
	}
	return relayConfig{Listen: listen, ListenTLS: listenTLS}
}
