package relay

// The harness of the hardening tests: a relay run in-process (by the
// shared test kit) against the test DNS server, delivering to recording
// SMTP sinks on other loopback addresses (127.0.0.2, .3, .4 act as
// separate hosts; on Linux the whole of 127.0.0.0/8 is routed to lo).

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"dkimrelay/config"
	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
	"dkimrelay/resolver"
	"dkimrelay/resolver/dnstest"
)

// hardDomain is the sending domain of the hardening tests.
const hardDomain = "example.org"

// hardOptions configure a hardRelay.
type hardOptions struct {
	port       int    // delivery.port: where the tests' MX hosts listen
	spf        string // delivery.spf_policy; default "off"
	submission string // extra lines of the [submission] table
	delivery   string // extra lines of the [delivery] table
	keys       string // extra lines of the [keys] table
	cluster    string // lines of a [cluster] table, when set
	dnsAddr    string // dns.servers, when not the test DNS server itself
	// beforeRun, when set, runs between New and Run: the place to
	// install a queue fault hook while nothing else uses the queue.
	beforeRun func(r *Relay)
}

// hardRelay is one relay under test.
type hardRelay = testkit.Relay[*Relay]

// newRelay is New for the kit's harness.
func newRelay(cfg *config.Config, log *slog.Logger) (*Relay, error) { return New(cfg, log) }

// hardConfig is the config of a hardening relay. The lines of
// o.submission, o.delivery and o.keys override the harness's defaults.
func hardConfig(dns *dnstest.Server, o hardOptions) string {
	dnsAddr := dns.Addr()
	if o.dnsAddr != "" {
		dnsAddr = o.dnsAddr
	}
	if o.spf == "" {
		o.spf = "off"
	}
	var c testkit.TOML
	c.Line(`hostname = "relay.example.net"`)
	c.Line(`data_dir = "data"`)
	c.Table("submission", []string{
		`listen = ["127.0.0.1:0"]`, `listen_tls = ["127.0.0.1:0"]`, `tls_cert = "tls/cert.pem"`,
		`tls_key = "tls/key.pem"`, `allow_insecure_auth = true`,
	}, o.submission)
	c.Line("[[domains]]\nname = %q", hardDomain)
	c.Table("delivery", []string{
		fmt.Sprintf("port = %d", max(o.port, 1)), `egress_ips = ["127.0.0.1"]`, fmt.Sprintf("spf_policy = %q", o.spf),
		`workers = 2`, `retry_min = "1s"`, `retry_max = "2s"`, `connect_timeout = "2s"`, `command_timeout = "2s"`,
		// The test MX hosts listen on 127.0.0.x.
		`allow_internal = true`,
	}, o.delivery)
	c.Table("dns", []string{fmt.Sprintf("servers = [%q]", dnsAddr), `timeout = "1s"`}, "")
	c.Table("keys", nil, o.keys)
	if o.cluster != "" {
		c.Table("cluster", nil, o.cluster)
	}
	return c.String()
}

// newHardRelay prepares a data dir (certificate, an active Ed25519 key for
// hardDomain published in dns, the login "app") and starts the relay.
func newHardRelay(t *testing.T, dns *dnstest.Server, o hardOptions) *hardRelay {
	t.Helper()
	h := prepareHardRelay(t, dns, o)
	h.Start()
	return h
}

// prepareHardRelay is newHardRelay without the start.
func prepareHardRelay(t *testing.T, dns *dnstest.Server, o hardOptions) *hardRelay {
	t.Helper()
	return testkit.PrepareRelay(t, testkit.RelaySetup[*Relay]{
		New:       newRelay,
		Config:    hardConfig(dns, o),
		Domains:   []string{hardDomain},
		DNS:       dns,
		BeforeRun: o.beforeRun,
	})
}

// hardMessage is a message from the test login, with a Message-ID so the
// sinks can tell messages apart.
func hardMessage(id, to string) string {
	return fmt.Sprintf("From: App <app@%s>\r\nTo: <%s>\r\nSubject: test %s\r\nMessage-ID: <%s@%s>\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n\r\nHello %s.\r\n",
		hardDomain, to, id, id, hardDomain, id)
}

// hardSend submits one message after STARTTLS with AUTH PLAIN
// and returns its QID, or the refusal.
func hardSend(t *testing.T, addr string, to []string, msg string) (string, *smtp.SMTPError) {
	t.Helper()
	c := testkit.DialSubmission(t, addr, "app", testkit.Password)
	defer c.Close()
	return testkit.Transact(t, c, "app@"+hardDomain, to, msg)
}

// mustSend is hardSend for a message that must be accepted.
func mustSend(t *testing.T, addr string, to []string, msg string) string {
	t.Helper()
	qid, se := hardSend(t, addr, to, msg)
	if se != nil {
		t.Fatalf("refused: %d %v %s", se.Code, se.EnhancedCode, se.Message)
	}
	return qid
}

// dialHardRaw opens a raw session (in TLS at once when implicit) and says
// EHLO.
func dialHardRaw(t *testing.T, addr string, implicit bool) *testkit.Raw {
	t.Helper()
	s := testkit.DialRaw(t, addr, implicit)
	s.Hello("client.test")
	return s
}

// serveSink serves a recording MX on l until the test ends.
func serveSink(t *testing.T, l net.Listener) *smtpsink.Sink {
	return testkit.ServeSink(t, l, smtpsink.Config{SMTPUTF8: true, Timeout: 30 * time.Second})
}

// serveTLSSink is serveSink offering STARTTLS with cert.
func serveTLSSink(t *testing.T, l net.Listener, cert tls.Certificate) *smtpsink.Sink {
	return testkit.ServeSink(t, l, smtpsink.Config{SMTPUTF8: true, Timeout: 30 * time.Second,
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
}

// hardZone is the DNS of the tests' destinations: each domain's MX is one
// of the loopback hosts.
const hardZone = `
good.test.      MX 10 mx.good.test.
mx.good.test.   A  127.0.0.2
other.test.     MX 10 mx.other.test.
mx.other.test.  A  127.0.0.3
slow.test.      MX 10 mx.slow.test.
mx.slow.test.   A  127.0.0.4
`

// discardLog is a logger for relays whose log no test reads.
func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// hardResolver asks the test DNS server, as a receiver's verifier would.
func hardResolver(t *testing.T, dns *dnstest.Server) *resolver.Resolver {
	t.Helper()
	res, err := resolver.New(resolver.Options{Servers: []string{dns.Addr()}, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return res
}
