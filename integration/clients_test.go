package integration

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"dkimrelay/internal/smtpsink"
)

// The submission clients real senders use, driven against one relay per
// test that signs with an RSA and an Ed25519 key. Every message they get
// delivered goes through all three verifiers, together with tampered copies
// that each verifier must judge as expected (see withVariants).

// clientTestbed is the peers of a client test: its relay signs twice.
func clientTestbed(t *testing.T) (*world, *sinkPair, *relay) {
	t.Helper()
	return testbed(t, relayOptions{extraKeys: []string{"ed25519"}})
}

// portOf is the port of a "127.0.0.1:port" listener address.
func portOf(t testing.TB, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// runScript runs a testdata script with in as JSON on stdin (secrets go
// there, never into argv) and decodes its JSON stdout into out.
func runScript(t testing.TB, interpreter, script string, in, out any) {
	t.Helper()
	abs, err := filepath.Abs(script)
	if err != nil {
		t.Fatal(err)
	}
	input, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(interpreter, abs)
	cmd.Stdin = bytes.NewReader(input)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstderr:\n%s\nstdout:\n%s", interpreter, script, err, stderr.String(), stdout.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("%s printed %s: %v\nstderr:\n%s", script, excerpt(stdout.Bytes(), 500), err, stderr.String())
	}
}

// delivered waits until every test ID has reached the sinks wantEach times
// (once per recipient domain) and returns the messages as verifier cases.
func delivered(t *testing.T, sinks *sinkPair, ids []string, wantEach int) ([]smtpsink.Message, []verifyCase) {
	t.Helper()
	msgs := sinks.waitFor(t, deliveryTimeout, fmt.Sprintf("%d message(s) per test ID %v", wantEach, ids), func(ms []smtpsink.Message) bool {
		for _, id := range ids {
			if len(withTestID(ms, id)) < wantEach {
				return false
			}
		}
		return true
	})
	var got []smtpsink.Message
	var cases []verifyCase
	for _, id := range ids {
		for _, m := range withTestID(msgs, id) {
			got = append(got, m)
			cases = append(cases, verifyCase{name: fmt.Sprintf("%s at %s", id, m.Local), data: m.Data})
		}
	}
	return got, cases
}

// checkAuthEvents checks the relay logged exactly want successful logins
// per SASL mechanism.
func checkAuthEvents(t *testing.T, r *relay, want map[string]int) {
	t.Helper()
	got := map[string]int{}
	for _, e := range r.eventsNamed("auth", "") {
		if e.str("result") == "ok" && e.str("user") == userFull {
			got[strings.ToUpper(e.str("mechanism"))]++
		}
	}
	for mech, n := range want {
		if got[mech] != n {
			t.Errorf("the log shows %d successful AUTH %s, want %d (all: %v)", got[mech], mech, n, got)
		}
	}
}

// decodedHeader returns a header field with RFC 2047 encoded-words decoded.
func decodedHeader(t *testing.T, m smtpsink.Message, name string) string {
	t.Helper()
	v := m.Header(name)
	s, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		t.Errorf("%s: %q does not decode: %v", name, v, err)
		return v
	}
	return s
}

// mailGemDelivery is one delivery testdata/mastodon_mail.rb makes with
// Ruby's mail gem, as Mastodon configures it.
type mailGemDelivery struct {
	TestID         string   `json:"test_id"`
	Port           int      `json:"port"`
	TLS            bool     `json:"tls"`
	Authentication string   `json:"authentication"`
	UserName       string   `json:"user_name"`
	Password       string   `json:"password"`
	Domain         string   `json:"domain"`
	To             []string `json:"to"`
	Date           string   `json:"date,omitempty"` // the Date: field; now when empty
}

// mailGemResult is what testdata/mastodon_mail.rb reports of a delivery.
type mailGemResult struct {
	TestID    string `json:"test_id"`
	MessageID string `json:"message_id"`
	Boundary  string `json:"boundary"`
	Response  string `json:"response"`
}

// TestMastodonMailGem sends Mastodon notification mails the way Mastodon
// does (ActionMailer, the mail gem, Net::SMTP; see
// testdata/mastodon_mail.rb): STARTTLS "auto" on the submission listener and
// implicit TLS on the other, each with AUTH PLAIN and AUTH LOGIN,
// certificate checks off and SMTP_DOMAIN as the EHLO name.
func TestMastodonMailGem(t *testing.T) {
	t.Parallel()
	requireTool(t, rubyPath, debianRuby+" with the mail gem", "ruby ruby-mail")
	w, sinks, r := clientTestbed(t)

	var ds []mailGemDelivery
	var ids []string
	for _, tls := range []bool{false, true} {
		for _, auth := range []string{"plain", "login"} {
			d := mailGemDelivery{TLS: tls, Authentication: auth, UserName: userFull, Password: r.password(userFull),
				Domain: "mastodon.example.org", To: []string{"alice@example.net"}}
			if tls {
				d.TestID, d.Port = "mastodon-tls-"+auth, portOf(t, r.cfg.ListenTLS)
			} else {
				d.TestID, d.Port = "mastodon-starttls-"+auth, portOf(t, r.cfg.Listen)
			}
			ds = append(ds, d)
			ids = append(ids, d.TestID)
		}
	}
	var results []mailGemResult
	runScript(t, rubyPath, "testdata/mastodon_mail.rb", ds, &results)
	if len(results) != len(ds) {
		t.Fatalf("the mail gem reported %d deliveries, want %d", len(results), len(ds))
	}

	msgs, cases := delivered(t, sinks, ids, 1)
	for i, res := range results {
		m := queuedAs.FindStringSubmatch(res.Response)
		if !strings.HasPrefix(res.Response, "250") || m == nil {
			t.Errorf("%s: the reply to DATA was %q, want 250 ... queued as QID", res.TestID, res.Response)
			continue
		}
		r.waitEvent(t, 10*time.Second, "delivered", forQID(m[1], "alice@example.net"))

		got := msgs[i]
		if got.From != "notifications@example.org" || !slices.Equal(got.To, []string{"alice@example.net"}) {
			t.Errorf("%s: delivered as <%s> -> %v, want <notifications@example.org> -> [alice@example.net]", res.TestID, got.From, got.To)
		}
		if want := "Sie wurden von Zoë erwähnt – 日本語 ✉ " + res.TestID; decodedHeader(t, got, "Subject") != want {
			t.Errorf("%s: Subject %q, want %q", res.TestID, decodedHeader(t, got, "Subject"), want)
		}
		if id := strings.Trim(got.Header("Message-ID"), "<> "); id != res.MessageID {
			t.Errorf("%s: Message-ID %q, the mail gem sent %q", res.TestID, id, res.MessageID)
		}
		if ct := got.Header("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative") {
			t.Errorf("%s: Content-Type %q, want multipart/alternative", res.TestID, ct)
		}
		// RFC 8058 section 4: one-click unsubscribe counts only when a
		// DKIM signature covers both List-Unsubscribe fields.
		for _, sig := range dkimSignatures(t, got.Data) {
			h := signedHeaders(sig)
			for _, want := range []string{"from", "to", "subject", "date", "message-id", "list-unsubscribe", "list-unsubscribe-post", "list-id"} {
				if !slices.Contains(h, want) {
					t.Errorf("%s: the %s signature does not cover %s (h=%s)", res.TestID, sig["a"], want, sig["h"])
				}
			}
		}
	}
	checkAuthEvents(t, r, map[string]int{"PLAIN": 2, "LOGIN": 2})
	verifyBatch(t, w, withVariants(cases), algRSA, algEd25519)
}

// TestSwaksClients drives swaks over both listeners with AUTH PLAIN and
// LOGIN, with and without PIPELINING (RFC 2920), to two recipient domains.
func TestSwaksClients(t *testing.T) {
	t.Parallel()
	requireTool(t, swaksPath, "swaks", "swaks")
	w, sinks, r := clientTestbed(t)

	variants := []struct {
		id       string
		connect  []string
		auth     string
		pipeline bool
	}{
		{"swaks-starttls-plain-pipeline", []string{"--server", r.cfg.Listen, "--tls"}, "PLAIN", true},
		{"swaks-tls-login-pipeline", []string{"--server", r.cfg.ListenTLS, "--tls-on-connect"}, "LOGIN", true},
		{"swaks-starttls-login", []string{"--server", r.cfg.Listen, "--tls"}, "LOGIN", false},
		{"swaks-tls-plain", []string{"--server", r.cfg.ListenTLS, "--tls-on-connect"}, "PLAIN", false},
	}
	var ids []string
	for _, v := range variants {
		args := append(slices.Clone(v.connect),
			"--auth", v.auth, "--auth-user", userFull,
			"--ehlo", "mastodon.example.org",
			"--from", "notifications@example.org", "--to", "alice@example.net,bob@example.com",
			"--header", "From: Mastodon <notifications@example.org>",
			"--header", "Subject: swaks "+v.id,
			"--header", "X-Test-ID: "+v.id,
			"--header", "List-Unsubscribe: <https://mastodon.example.org/unsubscribe?token=x>",
			"--header", "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
			"--body", "Sent by swaks ("+v.id+").",
			"--timeout", "30")
		if v.pipeline {
			args = append(args, "--pipeline")
		}
		cmd := exec.Command(swaksPath, args...)
		// The password goes through the environment, not argv (swaks reads
		// any option from SWAKS_OPT_name).
		cmd.Env = append(os.Environ(), "SWAKS_OPT_auth_password="+r.password(userFull))
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("swaks %s: %v\n%s\n%s", v.id, err, stdout.String(), stderr.String())
		}
		transcript := stdout.String()
		m := queuedAs.FindStringSubmatch(transcript)
		if m == nil {
			t.Fatalf("swaks %s: the transcript has no \"queued as QID\":\n%s", v.id, transcript)
		}
		if v.pipeline && !pipelined(transcript) {
			t.Errorf("swaks %s: MAIL, RCPT and DATA were not sent as one group (PIPELINING):\n%s", v.id, transcript)
		}
		if !strings.Contains(transcript, "AUTH "+v.auth) {
			t.Errorf("swaks %s: the transcript shows no AUTH %s:\n%s", v.id, v.auth, transcript)
		}
		ids = append(ids, v.id)
	}

	msgs, cases := delivered(t, sinks, ids, 2)
	for _, m := range msgs {
		want := map[string]string{hostA: "alice@example.net", hostB: "bob@example.com"}[m.Local]
		if !slices.Equal(m.To, []string{want}) {
			t.Errorf("%s at %s: delivered to %v, want [%s]", testID(m), m.Local, m.To, want)
		}
	}
	checkAuthEvents(t, r, map[string]int{"PLAIN": 2, "LOGIN": 2})
	verifyBatch(t, w, withVariants(cases), algRSA, algEd25519)
}

// pipelined reports whether a swaks transcript shows MAIL FROM, the RCPT
// TOs and DATA sent before the first reply to them. swaks marks what it
// sends with "->" ("~>" under TLS) and what it reads with "<-" ("<~").
func pipelined(transcript string) bool {
	sent := func(l, cmd string) bool {
		return strings.Contains(l, "-> "+cmd) || strings.Contains(l, "~> "+cmd)
	}
	lines := strings.Split(transcript, "\n")
	mail := slices.IndexFunc(lines, func(l string) bool { return sent(l, "MAIL FROM:") })
	if mail < 0 {
		return false
	}
	for _, l := range lines[mail+1:] {
		switch {
		case sent(l, "DATA"):
			return true
		case strings.Contains(l, "<- "), strings.Contains(l, "<~ "):
			return false // a reply came before DATA went out
		}
	}
	return false
}

// TestPythonSmtplib sends with Python's smtplib over STARTTLS (starttls())
// and implicit TLS (SMTP_SSL), with login()'s own choice of mechanism and
// with PLAIN and LOGIN forced.
func TestPythonSmtplib(t *testing.T) {
	t.Parallel()
	requireTool(t, smtplibPath, debianPython, "python3")
	w, sinks, r := clientTestbed(t)

	type delivery struct {
		TestID    string   `json:"test_id"`
		Mode      string   `json:"mode"`
		Port      int      `json:"port"`
		Mechanism string   `json:"mechanism"`
		User      string   `json:"user"`
		Password  string   `json:"password"`
		To        []string `json:"to"`
	}
	var ds []delivery
	var ids []string
	for _, v := range []struct{ mode, mech string }{{"starttls", ""}, {"starttls", "LOGIN"}, {"ssl", ""}, {"ssl", "LOGIN"}} {
		d := delivery{TestID: "smtplib-" + v.mode + "-" + strings.ToLower(cmp.Or(v.mech, "auto")),
			Mode: v.mode, Mechanism: v.mech, User: userFull, Password: r.password(userFull),
			To: []string{"alice@example.net"}}
		d.Port = portOf(t, r.cfg.Listen)
		if v.mode == "ssl" {
			d.Port = portOf(t, r.cfg.ListenTLS)
		}
		ds = append(ds, d)
		ids = append(ids, d.TestID)
	}
	var results []struct {
		TestID string   `json:"test_id"`
		EHLO   []string `json:"ehlo"`
		Auth   int      `json:"auth"`
	}
	runScript(t, smtplibPath, "testdata/smtplib_send.py", ds, &results)
	for _, res := range results {
		// After TLS: AUTH is offered (README.md), STARTTLS no longer
		// is (RFC 3207 section 4.2).
		for _, want := range []string{"auth", "pipelining", "8bitmime", "smtputf8", "size", "enhancedstatuscodes"} {
			if !slices.Contains(res.EHLO, want) {
				t.Errorf("%s: EHLO after TLS offers %v, missing %s", res.TestID, res.EHLO, want)
			}
		}
		if slices.Contains(res.EHLO, "starttls") {
			t.Errorf("%s: EHLO after TLS still offers STARTTLS", res.TestID)
		}
		if res.Auth != 235 {
			t.Errorf("%s: AUTH got %d, want 235", res.TestID, res.Auth)
		}
	}

	msgs, cases := delivered(t, sinks, ids, 1)
	for _, m := range msgs {
		if want := "Bücherei <notifications@example.org>"; decodedHeader(t, m, "From") != want {
			t.Errorf("%s: From %q, want %q", testID(m), decodedHeader(t, m, "From"), want)
		}
	}
	// login() picks PLAIN, the first of smtplib's preferences the relay offers.
	checkAuthEvents(t, r, map[string]int{"PLAIN": 2, "LOGIN": 2})
	verifyBatch(t, w, withVariants(cases), algRSA, algEd25519)
}
