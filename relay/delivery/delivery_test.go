package delivery

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"dkimrelay/config"
	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
	"dkimrelay/relay/outcome"
	"dkimrelay/resolver"
	"dkimrelay/resolver/dnstest"
)

const body = "From: app@relay.test\r\nTo: someone\r\nSubject: hi\r\n\r\nHello.\r\n.A line starting with a dot\r\n"

// env is a DNS server and listeners on 127.0.0.2 and 127.0.0.3 sharing one
// port (the MX port), plus records naming them.
type env struct {
	dns  *dnstest.Server
	res  *resolver.Resolver
	port int
	ln2  net.Listener // 127.0.0.2, host mx1.test
	ln3  net.Listener // 127.0.0.3, host mx2.test
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{dns: dnstest.NewServer(t)}
	e.dns.AddZone(`
mx1.test.  A 127.0.0.2
mx2.test.  A 127.0.0.3
dead.test. A 127.0.0.4
`)
	var err error
	e.res, err = resolver.New(resolver.Options{Servers: []string{e.dns.Addr()}, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var lns []net.Listener
	e.port, lns = testkit.ListenSame(t, "127.0.0.2", "127.0.0.3")
	e.ln2, e.ln3 = lns[0], lns[1]
	return e
}

// section is the [delivery] section of a test rig: the defaults, and
// allow_internal, since the test MX hosts listen on 127.0.0.x.
func section() config.Delivery {
	d := config.Defaults().Delivery
	d.AllowInternal = true
	return d
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (e *env) deliverer(t *testing.T, mod ...func(*Config)) *Deliverer {
	t.Helper()
	cfg := Config{
		Delivery:    section(),
		Hostname:    "relay.test",
		Resolver:    e.res,
		DataTimeout: 5 * time.Second,
		Logger:      testLogger(t),
	}
	cfg.Port = e.port
	cfg.ConnectTimeout = 2 * time.Second
	cfg.CommandTimeout = 5 * time.Second
	for _, m := range mod {
		m(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func message(data string, rcpts ...string) Message {
	return Message{
		ID:    "QID1",
		From:  "app@relay.test",
		Rcpts: rcpts,
		Open:  func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(data)), nil },
		Size:  int64(len(data)),
	}
}

// want is the expected part of a Result.
type want struct {
	status   outcome.Status
	code     int
	mx       string
	tls      string
	enhanced string
	reply    string // substring
	policy   string // tls_policy; "" is not checked
}

func check(t *testing.T, got []outcome.Outcome, rcpts []string, wants ...want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("%d results, want %d: %+v", len(got), len(wants), got)
	}
	for i, w := range wants {
		g := got[i]
		if g.Rcpt != rcpts[i] {
			t.Errorf("result %d is for %q, want %q", i, g.Rcpt, rcpts[i])
		}
		if g.Status != w.status || g.Code != w.code || g.MX != w.mx || g.TLS != w.tls ||
			(w.enhanced != "" && g.Enhanced != w.enhanced) || !strings.Contains(g.Reply, w.reply) ||
			(w.policy != "" && g.TLSPolicy != w.policy) {
			t.Errorf("result %d (%s):\n got %v code=%d mx=%q tls=%q enh=%q reply=%q policy=%q\nwant %v code=%d mx=%q tls=%q enh=%q reply~%q policy=%q",
				i, g.Rcpt, g.Status, g.Code, g.MX, g.TLS, g.Enhanced, g.Reply, g.TLSPolicy,
				w.status, w.code, w.mx, w.tls, w.enhanced, w.reply, w.policy)
		}
	}
}

func TestDeliverTLSAndPlain(t *testing.T) {
	cert := testkit.SelfSigned(t, "mx1.test")
	badTLS := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		return nil, errors.New("no certificate today")
	}}
	tests := []struct {
		name       string
		opts       []sinkOption
		wantTLS    string
		wantPolicy string
	}{
		{"starttls", []sinkOption{withTLS(cert)}, "TLS1.3", PolicyOpportunistic},
		{"plaintext", nil, "", PolicyNone},
		// The handshake fails: the same host is retried without TLS.
		{"handshake failure falls back to plaintext", []sinkOption{func(c *smtpsink.Config) { c.TLS = badTLS }}, "", PolicyNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.dns.Add("example.net. MX 10 mx1.test.")
			s := serveSink(t, e.ln2, tt.opts...)
			d := e.deliverer(t)
			rcpts := []string{"alice@example.net", "bob@EXAMPLE.net"}
			got := d.Deliver(context.Background(), message(body, rcpts...))
			w := want{status: outcome.Delivered, code: 250, mx: "mx1.test", tls: tt.wantTLS, enhanced: "2.0.0", reply: "mx1.test said: 250 2.0.0", policy: tt.wantPolicy}
			check(t, got, rcpts, w, w)

			rec := s.Messages()
			if len(rec) != 1 {
				t.Fatalf("sink got %d transactions, want 1", len(rec))
			}
			r := rec[0]
			if r.From != "app@relay.test" || strings.Join(r.To, ",") != strings.Join(rcpts, ",") ||
				r.Helo != "relay.test" || r.TLS != (tt.wantTLS != "") {
				t.Errorf("sink saw %+v", r)
			}
			if string(r.Data) != body {
				t.Errorf("body arrived as %q, want %q", r.Data, body)
			}
			if r.Opts.Size != int64(len(body)) || r.Opts.Body != "" || r.Opts.UTF8 {
				t.Errorf("MAIL parameters %+v: want SIZE only", r.Opts)
			}
		})
	}
}

func TestMXFallback(t *testing.T) {
	e := newEnv(t)
	s := serveSink(t, e.ln2)
	// mx2.test (127.0.0.3) greets with 421; dead.test refuses connections.
	testkit.ServeRaw(t, e.ln3, func(c net.Conn) { io.WriteString(c, "421 4.3.2 mx2.test busy, try later\r\n") })
	e.dns.Add(
		"refused.example. MX 10 dead.test.", "refused.example. MX 20 mx1.test.",
		"busy.example. MX 10 mx2.test.", "busy.example. MX 20 mx1.test.",
		"noaddr.example. MX 10 missing.test.", "noaddr.example. MX 20 mx1.test.",
		"alldead.example. MX 10 dead.test.",
		"allbusy.example. MX 10 mx2.test.",
	)
	d := e.deliverer(t)
	delivered := want{status: outcome.Delivered, code: 250, mx: "mx1.test", reply: "250"}
	tests := []struct {
		domain string
		want   want
	}{
		{"refused.example", delivered},
		{"busy.example", delivered},
		{"noaddr.example", delivered},
		{"alldead.example", want{status: outcome.Transient, mx: "dead.test", enhanced: "4.4.1", reply: "connection refused"}},
		{"allbusy.example", want{status: outcome.Transient, code: 421, mx: "mx2.test", enhanced: "4.3.2", reply: "mx2.test said: 421 4.3.2 mx2.test busy"}},
	}
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			rcpts := []string{"user@" + tt.domain}
			check(t, d.Deliver(context.Background(), message(body, rcpts...)), rcpts, tt.want)
		})
	}
	if n := len(s.Messages()); n != 3 {
		t.Errorf("mx1 got %d transactions, want 3", n)
	}
}

func TestDNSOutcomes(t *testing.T) {
	e := newEnv(t)
	s := serveSink(t, e.ln2)
	e.dns.Add(
		"nullmx.example. MX 0 .",
		"implicit.example. A 127.0.0.2",
		"noaddr.example. TXT \"exists, but no MX and no A\"",
		"mxnoaddr.example. MX 10 missing.test.",
	)
	e.dns.SetServfail("servfail.example")
	e.dns.SetServfail("broken-mx.test")
	e.dns.Add("brokenmx.example. MX 10 broken-mx.test.")
	d := e.deliverer(t)

	tests := []struct {
		rcpt string
		want want
	}{
		{"u@nullmx.example", want{status: outcome.Permanent, enhanced: "5.1.10", reply: "does not accept mail (null MX)"}},
		{"u@nxdomain.example", want{status: outcome.Permanent, enhanced: "5.1.2", reply: "does not exist (NXDOMAIN)"}},
		{"u@servfail.example", want{status: outcome.Transient, enhanced: "4.4.3", reply: "MX lookup for servfail.example failed"}},
		{"u@implicit.example", want{status: outcome.Delivered, code: 250, mx: "implicit.example", reply: "implicit.example said: 250"}},
		{"u@noaddr.example", want{status: outcome.Permanent, mx: "noaddr.example", enhanced: "5.1.2", reply: "no MX and no address records"}},
		{"u@mxnoaddr.example", want{status: outcome.Permanent, mx: "missing.test", enhanced: "5.4.4", reply: "has no address records"}},
		{"u@brokenmx.example", want{status: outcome.Transient, mx: "broken-mx.test", enhanced: "4.4.3", reply: "address lookup for broken-mx.test failed"}},
		{"u@[127.0.0.2]", want{status: outcome.Delivered, code: 250, mx: "[127.0.0.2]", reply: "[127.0.0.2] said: 250"}},
		{"u@[IPv6:not-an-ip]", want{status: outcome.Permanent, enhanced: "5.1.2", reply: "malformed address literal"}},
		{"no-domain", want{status: outcome.Permanent, enhanced: "5.1.3", reply: "malformed recipient address"}},
	}
	for _, tt := range tests {
		t.Run(tt.rcpt, func(t *testing.T) {
			check(t, d.Deliver(context.Background(), message(body, tt.rcpt)), []string{tt.rcpt}, tt.want)
		})
	}
	if n := len(s.Messages()); n != 2 {
		t.Errorf("sink got %d transactions, want 2 (implicit MX and IP literal)", n)
	}
}

// TestEgressIPs: the connection leaves from the delivery.egress_ips
// address of the destination's family.
func TestEgressIPs(t *testing.T) {
	e := newEnv(t)
	e.dns.Add("example.net. MX 10 mx1.test.")
	s := serveSink(t, e.ln2)

	d := e.deliverer(t, func(c *Config) {
		c.EgressIPs = []netip.Addr{netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.5")}
	})
	got := d.Deliver(context.Background(), message(body, "u@example.net"))
	if got[0].Status != outcome.Delivered {
		t.Fatalf("got %+v", got[0])
	}
	if rec := s.Messages(); len(rec) != 1 || rec[0].Remote != "127.0.0.5" {
		t.Errorf("sink saw the connection from %+v, want 127.0.0.5", rec)
	}

	// No egress address of the destination's family: not deliverable now.
	d = e.deliverer(t, func(c *Config) { c.EgressIPs = []netip.Addr{netip.MustParseAddr("::1")} })
	got = d.Deliver(context.Background(), message(body, "u@example.net"))
	check(t, got, []string{"u@example.net"}, want{status: outcome.Transient, mx: "mx1.test", reply: "no egress address"})
}
