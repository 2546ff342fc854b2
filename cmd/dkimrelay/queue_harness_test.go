package main

// An in-process relay (the shared test kit's harness) for the queue, logs
// and metrics tests: a temp config, a DNS server on loopback, and an MX on
// 127.0.0.2 that accepts recipients at example.com and defers every
// other, so messages stay queued for the commands to act on.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"dkimrelay/config"
	"dkimrelay/control"
	"dkimrelay/events"
	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
	"dkimrelay/relay"
	"dkimrelay/resolver/dnstest"
)

const qtUser = "app"

// testRelay is a relay running in this process.
type testRelay struct {
	*testkit.Relay[*relay.Relay]
	mx      *smtpsink.Sink // the MX of example.net and example.com
	metrics string         // metrics address
}

// greylist answers 451 to every RCPT but those at example.com.
func greylist(p smtpsink.Phase, to string) error {
	if p != smtpsink.Rcpt || strings.HasSuffix(to, "@example.com") {
		return nil
	}
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Greylisted, try again later"}
}

func startTestRelay(t *testing.T) *testRelay {
	t.Helper()
	mxPort, lns := testkit.ListenSame(t, "127.0.0.2")
	mx := testkit.ServeSink(t, lns[0], smtpsink.Config{Hostname: "mx.example.net", Timeout: 10 * time.Second, Reply: greylist})

	dns := dnstest.NewServer(t)
	dns.Add(
		"example.net. 300 IN MX 10 mx.example.net.",
		"mx.example.net. 300 IN A 127.0.0.2",
		"example.com. 300 IN MX 10 mx.example.net.",
		`example.org. 300 IN TXT "v=spf1 ip4:127.0.0.1 -all"`,
	)

	toml := fmt.Sprintf(`hostname = "mail.example.org"
data_dir = "data"

[submission]
listen = ["127.0.0.1:0"]
tls_cert = "tls/cert.pem"
tls_key = "tls/key.pem"
allow_insecure_auth = true

[[domains]]
name = "example.org"

[delivery]
mode = "mx"
port = %d
allow_internal = true
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
`, mxPort, dns.Addr())
	h := testkit.StartRelay(t, testkit.RelaySetup[*relay.Relay]{
		New:     relay.New,
		Config:  toml,
		Domains: []string{"example.org"},
		User:    qtUser,
		// The log goes to the file of the [log] table, which the logs
		// command reads.
		Logger: func(cfg *config.Config) (*slog.Logger, func(), error) {
			log, f, err := events.OpenLog(cfg.Log.File, slog.LevelInfo)
			if err != nil {
				return nil, nil, err
			}
			return log, func() { f.Close() }, nil
		},
	})
	tr := &testRelay{Relay: h, mx: mx}
	tr.waitUntil("the relay answers on its control socket and metrics port", func() bool {
		err := control.Call(context.Background(), tr.Config.ControlSocket(), "queue.list", nil, nil)
		tr.metrics = tr.Daemon.MetricsAddr()
		return err == nil && tr.metrics != ""
	})
	return tr
}

// waitUntil polls cond. The deadline only keeps a broken relay from
// hanging the test; nothing measures speed.
func (tr *testRelay) waitUntil(what string, cond func() bool) {
	tr.T.Helper()
	testkit.Await(tr.T, 30*time.Second, what, cond)
}

// cli runs a dkimrelay command against the relay's config.
func (tr *testRelay) cli(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	code = run(e, append([]string{"--config", tr.ConfigPath}, args...))
	return code, out.String(), errb.String()
}

func (tr *testRelay) mustCLI(args ...string) string {
	tr.T.Helper()
	code, out, errs := tr.cli(args...)
	if code != 0 {
		tr.T.Fatalf("dkimrelay %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// dial opens an SMTP submission session.
func (tr *testRelay) dial() *smtp.Client {
	tr.T.Helper()
	c, err := smtp.Dial(tr.Addr())
	if err != nil {
		tr.T.Fatal(err)
	}
	if err := c.Hello("app.example.org"); err != nil {
		tr.T.Fatal(err)
	}
	return c
}

// resetLinks numbers the messages send writes.
var resetLinks atomic.Int64

// send submits one message and returns its queue ID from the 250 reply.
func (tr *testRelay) send(c *smtp.Client, from string, to ...string) string {
	tr.T.Helper()
	// A link of its own, as each reset mail has: the same content again
	// would be taken for a retry of the first (submission.duplicate_window).
	msg := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: Password reset\r\n\r\nYour reset link %d.\r\n", from, strings.Join(to, ", "), resetLinks.Add(1))
	qid, se := testkit.Transact(tr.T, c, from, to, msg)
	if se != nil {
		tr.T.Fatalf("submitting from <%s> to %v: %v", from, to, se)
	}
	return qid
}

func (tr *testRelay) login(c *smtp.Client, password string) error {
	return c.Auth(sasl.NewPlainClient("", qtUser, password))
}
