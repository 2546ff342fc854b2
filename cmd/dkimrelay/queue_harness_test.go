package main

// An in-process relay for the queue, logs and metrics tests: a temp
// config, a DNS server on loopback, and an MX on 127.0.0.2 that accepts
// recipients at example.com and defers every other, so messages stay
// queued for the commands to act on.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"dkimrelay/config"
	"dkimrelay/control"
	"dkimrelay/events"
	"dkimrelay/internal/selfsigned"
	"dkimrelay/keys"
	"dkimrelay/relay"
	"dkimrelay/resolver/dnstest"
	"dkimrelay/users"
)

const (
	qtUser     = "app"
	qtPassword = "correct horse battery staple"
)

// deferringMX answers 451 to every RCPT but those at example.com, and
// counts them.
type deferringMX struct {
	mu    sync.Mutex
	rcpts map[string]int
}

func (m *deferringMX) NewSession(*smtp.Conn) (smtp.Session, error) { return &deferSession{m}, nil }

func (m *deferringMX) tries(addr string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rcpts[addr]
}

type deferSession struct{ m *deferringMX }

func (s *deferSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *deferSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.m.mu.Lock()
	s.m.rcpts[to]++
	s.m.mu.Unlock()
	if strings.HasSuffix(to, "@example.com") {
		return nil
	}
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Greylisted, try again later"}
}
func (s *deferSession) Data(r io.Reader) error { _, err := io.Copy(io.Discard, r); return err }
func (s *deferSession) Reset()                 {}
func (s *deferSession) Logout() error          { return nil }

// testRelay is a relay running in this process.
type testRelay struct {
	t       *testing.T
	dir     string
	config  string
	cfg     *config.Config
	relay   *relay.Relay
	mx      *deferringMX
	submit  string // submission address
	metrics string // metrics address
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func startTestRelay(t *testing.T) *testRelay {
	t.Helper()
	tr := &testRelay{t: t, dir: t.TempDir(), mx: &deferringMX{rcpts: map[string]int{}}}

	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatalf("listening on 127.0.0.2 (the loopback range must be routed to lo): %v", err)
	}
	srv := smtp.NewServer(tr.mx)
	srv.Domain = "mx.example.net"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	_, mxPort, _ := net.SplitHostPort(ln.Addr().String())

	dns := dnstest.NewServer(t)
	dns.Add(
		"example.net. 300 IN MX 10 mx.example.net.",
		"mx.example.net. 300 IN A 127.0.0.2",
		"example.com. 300 IN MX 10 mx.example.net.",
		`example.org. 300 IN TXT "v=spf1 ip4:127.0.0.1 -all"`,
	)

	if err := selfsigned.Write(filepath.Join(tr.dir, "tls", "cert.pem"), filepath.Join(tr.dir, "tls", "key.pem"), "mail.example.org"); err != nil {
		t.Fatal(err)
	}
	tr.submit = "127.0.0.1:" + freePort(t)
	tr.config = filepath.Join(tr.dir, "dkimrelay.toml")
	toml := fmt.Sprintf(`hostname = "mail.example.org"
data_dir = "data"

[submission]
listen = [%q]
tls_cert = "tls/cert.pem"
tls_key = "tls/key.pem"
allow_insecure_auth = true

[[domains]]
name = "example.org"

[delivery]
mode = "mx"
port = %s
egress_ips = ["127.0.0.1"]
spf_policy = "reject"
retry_min = "1h"
retry_max = "2h"
workers = 2
connect_timeout = "5s"
command_timeout = "10s"

[dns]
servers = [%q]
timeout = "2s"

[log]
file = "dkimrelay.log"

[metrics]
listen = "127.0.0.1:0"
`, tr.submit, mxPort, dns.Addr())
	if err := os.WriteFile(tr.config, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	if tr.cfg, err = config.Load(tr.config); err != nil {
		t.Fatal(err)
	}
	st, err := keys.Open(tr.cfg.KeysDir())
	if err != nil {
		t.Fatal(err)
	}
	k, err := st.Generate("example.org", keys.Ed25519, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Activate("example.org", k.Selector, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := users.Update(tr.cfg.UsersFile(), func(db *users.DB) error {
		return db.Add(qtUser, qtPassword, []string{"@example.org"})
	}); err != nil {
		t.Fatal(err)
	}

	log, logFile, err := events.OpenLog(tr.cfg.Log.File, slog.LevelInfo)
	if err != nil {
		t.Fatal(err)
	}
	if tr.relay, err = relay.New(tr.cfg, log); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.relay.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("relay.Run: %v", err)
		}
		logFile.Close()
	})
	tr.waitUntil("the relay answers on its control socket and metrics port", func() bool {
		err := control.Call(context.Background(), tr.cfg.ControlSocket(), "queue.list", nil, nil)
		tr.metrics = tr.relay.MetricsAddr()
		return err == nil && tr.metrics != ""
	})
	return tr
}

// waitUntil polls cond. The deadline only keeps a broken relay from
// hanging the test; nothing measures speed.
func (tr *testRelay) waitUntil(what string, cond func() bool) {
	tr.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tr.t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cli runs a dkimrelay command against the relay's config.
func (tr *testRelay) cli(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	code = run(e, append([]string{"--config", tr.config}, args...))
	return code, out.String(), errb.String()
}

func (tr *testRelay) mustCLI(args ...string) string {
	tr.t.Helper()
	code, out, errs := tr.cli(args...)
	if code != 0 {
		tr.t.Fatalf("dkimrelay %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// dial opens an SMTP submission session.
func (tr *testRelay) dial() *smtp.Client {
	tr.t.Helper()
	c, err := smtp.Dial(tr.submit)
	if err != nil {
		tr.t.Fatal(err)
	}
	if err := c.Hello("app.example.org"); err != nil {
		tr.t.Fatal(err)
	}
	return c
}

// send submits one message and returns its queue ID from the 250 reply.
func (tr *testRelay) send(c *smtp.Client, from string, to ...string) string {
	tr.t.Helper()
	if err := c.Mail(from, nil); err != nil {
		tr.t.Fatalf("MAIL FROM:<%s>: %v", from, err)
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			tr.t.Fatalf("RCPT TO:<%s>: %v", r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		tr.t.Fatal(err)
	}
	fmt.Fprintf(w, "From: %s\r\nTo: %s\r\nSubject: Password reset\r\n\r\nYour reset link.\r\n", from, strings.Join(to, ", "))
	resp, err := w.CloseWithResponse()
	if err != nil {
		tr.t.Fatal(err)
	}
	_, qid, ok := strings.Cut(resp.StatusText, "queued as ")
	if !ok {
		tr.t.Fatalf("DATA reply %q names no queue ID", resp.StatusText)
	}
	return strings.TrimSpace(qid)
}

func (tr *testRelay) login(c *smtp.Client, password string) error {
	return c.Auth(sasl.NewPlainClient("", qtUser, password))
}
