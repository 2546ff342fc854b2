package delivery

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

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
	e.port, lns = listenSame(t, "127.0.0.2", "127.0.0.3")
	e.ln2, e.ln3 = lns[0], lns[1]
	return e
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (e *env) deliverer(t *testing.T, mod ...func(*Config)) *Deliverer {
	t.Helper()
	cfg := Config{
		Hostname:       "relay.test",
		Port:           e.port,
		Resolver:       e.res,
		ConnectTimeout: 2 * time.Second,
		CommandTimeout: 5 * time.Second,
		DataTimeout:    5 * time.Second,
		Logger:         testLogger(t),
	}
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
	status   Status
	code     int
	mx       string
	tls      string
	enhanced string
	reply    string // substring
}

func check(t *testing.T, got []Result, rcpts []string, wants ...want) {
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
			(w.enhanced != "" && g.Enhanced != w.enhanced) || !strings.Contains(g.Reply, w.reply) {
			t.Errorf("result %d (%s):\n got %v code=%d mx=%q tls=%q enh=%q reply=%q\nwant %v code=%d mx=%q tls=%q enh=%q reply~%q",
				i, g.Rcpt, g.Status, g.Code, g.MX, g.TLS, g.Enhanced, g.Reply,
				w.status, w.code, w.mx, w.tls, w.enhanced, w.reply)
		}
	}
}

func TestDeliverTLSAndPlain(t *testing.T) {
	cert, _ := selfSigned(t, []string{"mx1.test"}, nil)
	badTLS := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		return nil, errors.New("no certificate today")
	}}
	tests := []struct {
		name    string
		opts    []sinkOption
		wantTLS string
	}{
		{"starttls", []sinkOption{withTLS(cert)}, "TLS1.3"},
		{"plaintext", nil, ""},
		// The handshake fails: the same host is retried without TLS.
		{"handshake failure falls back to plaintext", []sinkOption{func(s *sink) { s.srv.TLSConfig = badTLS }}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.dns.Add("example.net. MX 10 mx1.test.")
			s := serveSink(t, e.ln2, tt.opts...)
			d := e.deliverer(t)
			rcpts := []string{"alice@example.net", "bob@EXAMPLE.net"}
			got := d.Deliver(context.Background(), message(body, rcpts...))
			w := want{status: Delivered, code: 250, mx: "mx1.test", tls: tt.wantTLS, enhanced: "2.0.0", reply: "mx1.test said: 250 2.0.0"}
			check(t, got, rcpts, w, w)

			rec := s.received()
			if len(rec) != 1 {
				t.Fatalf("sink got %d transactions, want 1", len(rec))
			}
			r := rec[0]
			if r.From != "app@relay.test" || strings.Join(r.Rcpts, ",") != strings.Join(rcpts, ",") ||
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
	rawPeer(t, e.ln3, func(c net.Conn) { io.WriteString(c, "421 4.3.2 mx2.test busy, try later\r\n") })
	e.dns.Add(
		"refused.example. MX 10 dead.test.", "refused.example. MX 20 mx1.test.",
		"busy.example. MX 10 mx2.test.", "busy.example. MX 20 mx1.test.",
		"noaddr.example. MX 10 missing.test.", "noaddr.example. MX 20 mx1.test.",
		"alldead.example. MX 10 dead.test.",
		"allbusy.example. MX 10 mx2.test.",
	)
	d := e.deliverer(t)
	delivered := want{status: Delivered, code: 250, mx: "mx1.test", reply: "250"}
	tests := []struct {
		domain string
		want   want
	}{
		{"refused.example", delivered},
		{"busy.example", delivered},
		{"noaddr.example", delivered},
		{"alldead.example", want{status: Transient, mx: "dead.test", enhanced: "4.4.1", reply: "connection refused"}},
		{"allbusy.example", want{status: Transient, code: 421, mx: "mx2.test", enhanced: "4.3.2", reply: "mx2.test said: 421 4.3.2 mx2.test busy"}},
	}
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			rcpts := []string{"user@" + tt.domain}
			check(t, d.Deliver(context.Background(), message(body, rcpts...)), rcpts, tt.want)
		})
	}
	if n := len(s.received()); n != 3 {
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
		{"u@nullmx.example", want{status: Permanent, enhanced: "5.1.10", reply: "does not accept mail (null MX)"}},
		{"u@nxdomain.example", want{status: Permanent, enhanced: "5.1.2", reply: "does not exist (NXDOMAIN)"}},
		{"u@servfail.example", want{status: Transient, enhanced: "4.4.3", reply: "MX lookup for servfail.example failed"}},
		{"u@implicit.example", want{status: Delivered, code: 250, mx: "implicit.example", reply: "implicit.example said: 250"}},
		{"u@noaddr.example", want{status: Permanent, mx: "noaddr.example", enhanced: "5.1.2", reply: "no MX and no address records"}},
		{"u@mxnoaddr.example", want{status: Permanent, mx: "missing.test", enhanced: "5.4.4", reply: "has no address records"}},
		{"u@brokenmx.example", want{status: Transient, mx: "broken-mx.test", enhanced: "4.4.3", reply: "address lookup for broken-mx.test failed"}},
		{"u@[127.0.0.2]", want{status: Delivered, code: 250, mx: "[127.0.0.2]", reply: "[127.0.0.2] said: 250"}},
		{"u@[IPv6:not-an-ip]", want{status: Permanent, enhanced: "5.1.2", reply: "malformed address literal"}},
		{"no-domain", want{status: Permanent, enhanced: "5.1.3", reply: "malformed recipient address"}},
	}
	for _, tt := range tests {
		t.Run(tt.rcpt, func(t *testing.T) {
			check(t, d.Deliver(context.Background(), message(body, tt.rcpt)), []string{tt.rcpt}, tt.want)
		})
	}
	if n := len(s.received()); n != 2 {
		t.Errorf("sink got %d transactions, want 2 (implicit MX and IP literal)", n)
	}
}

func TestRecipientReplies(t *testing.T) {
	e := newEnv(t)
	e.dns.Add("example.net. MX 10 mx1.test.")
	s := serveSink(t, e.ln2)
	s.onRcpt = func(to string) error {
		switch {
		case strings.HasPrefix(to, "unknown@"):
			return smtpErr(550, "5.1.1", "no such user")
		case strings.HasPrefix(to, "full@"):
			return smtpErr(452, "4.2.2", "mailbox full")
		}
		return nil
	}
	d := e.deliverer(t)

	rcpts := []string{"ok@example.net", "unknown@example.net", "full@example.net", "ok2@example.net"}
	ok := want{status: Delivered, code: 250, mx: "mx1.test", reply: "250"}
	check(t, d.Deliver(context.Background(), message(body, rcpts...)), rcpts,
		ok,
		want{status: Permanent, code: 550, mx: "mx1.test", enhanced: "5.1.1", reply: "mx1.test said: 550 5.1.1 no such user"},
		want{status: Transient, code: 452, mx: "mx1.test", enhanced: "4.2.2", reply: "mx1.test said: 452 4.2.2 mailbox full"},
		ok,
	)
	rec := s.received()
	if len(rec) != 1 || strings.Join(rec[0].Rcpts, ",") != "ok@example.net,ok2@example.net" {
		t.Errorf("sink got %+v", rec)
	}

	// Nobody accepted: no DATA at all.
	rcpts = []string{"unknown@example.net", "full@example.net"}
	got := d.Deliver(context.Background(), message(body, rcpts...))
	if got[0].Status != Permanent || got[1].Status != Transient {
		t.Errorf("got %+v", got)
	}
	if n := len(s.received()); n != 1 {
		t.Errorf("a message was sent with no accepted recipient")
	}
}

func TestTransactionReplies(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*sink)
		want  want
	}{
		{"5xx after DATA", func(s *sink) { s.onData = func([]byte) error { return smtpErr(554, "5.7.1", "spam detected") } },
			want{status: Permanent, code: 554, mx: "mx1.test", enhanced: "5.7.1", reply: "mx1.test said: 554 5.7.1 spam detected"}},
		{"4xx after DATA", func(s *sink) { s.onData = func([]byte) error { return smtpErr(451, "4.7.1", "greylisted") } },
			want{status: Transient, code: 451, mx: "mx1.test", enhanced: "4.7.1", reply: "451 4.7.1 greylisted"}},
		{"5xx to MAIL FROM", func(s *sink) { s.onMail = func(string) error { return smtpErr(553, "5.7.1", "sender rejected") } },
			want{status: Permanent, code: 553, mx: "mx1.test", enhanced: "5.7.1", reply: "553 5.7.1 sender rejected"}},
		{"4xx to MAIL FROM", func(s *sink) { s.onMail = func(string) error { return smtpErr(421, "4.7.0", "too many connections") } },
			want{status: Transient, code: 421, mx: "mx1.test", reply: "421 4.7.0 too many connections"}},
		{"size over the advertised limit", func(s *sink) { s.srv.MaxMessageBytes = 10 },
			want{status: Permanent, mx: "mx1.test", enhanced: "5.3.4", reply: "exceeds the 10-byte limit of mx1.test"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.dns.Add("example.net. MX 10 mx1.test.")
			s := serveSink(t, e.ln2)
			tt.setup(s)
			rcpts := []string{"a@example.net", "b@example.net"}
			got := e.deliverer(t).Deliver(context.Background(), message(body, rcpts...))
			check(t, got, rcpts, tt.want, tt.want)
			if n := len(s.received()); n != 0 {
				t.Errorf("sink recorded %d delivered transactions", n)
			}
		})
	}
}

func TestTwoDomainsInOneCall(t *testing.T) {
	e := newEnv(t)
	e.dns.Add("a.example. MX 10 mx1.test.", "b.example. MX 10 mx2.test.")
	s1 := serveSink(t, e.ln2)
	s2 := serveSink(t, e.ln3)
	rcpts := []string{"x@a.example", "y@b.example", "z@A.example"}
	got := e.deliverer(t).Deliver(context.Background(), message(body, rcpts...))
	check(t, got, rcpts,
		want{status: Delivered, code: 250, mx: "mx1.test", reply: "250"},
		want{status: Delivered, code: 250, mx: "mx2.test", reply: "250"},
		want{status: Delivered, code: 250, mx: "mx1.test", reply: "250"},
	)
	r1, r2 := s1.received(), s2.received()
	if len(r1) != 1 || strings.Join(r1[0].Rcpts, ",") != "x@a.example,z@A.example" {
		t.Errorf("mx1 got %+v, want one transaction for x and z", r1)
	}
	if len(r2) != 1 || strings.Join(r2[0].Rcpts, ",") != "y@b.example" {
		t.Errorf("mx2 got %+v, want one transaction for y", r2)
	}
}

func TestExtensions(t *testing.T) {
	eightBit := "From: app@relay.test\r\nSubject: hi\r\n\r\nOlá, café.\r\n"
	utf8Header := "From: app@relay.test\r\nSubject: Olá\r\n\r\nplain body\r\n"
	tests := []struct {
		name      string
		data      string
		rcpt      string
		utf8      bool // the sink offers SMTPUTF8
		want      want
		wantBody  string
		wantUTF8  bool
		delivered bool
	}{
		{"8bit body", eightBit, "u@example.net", false,
			want{status: Delivered, code: 250, mx: "mx1.test", reply: "250"}, "8BITMIME", false, true},
		{"utf8 header, server with SMTPUTF8", utf8Header, "u@example.net", true,
			want{status: Delivered, code: 250, mx: "mx1.test", reply: "250"}, "8BITMIME", true, true},
		{"utf8 header, server without SMTPUTF8", utf8Header, "u@example.net", false,
			want{status: Delivered, code: 250, mx: "mx1.test", reply: "250"}, "8BITMIME", false, true},
		{"utf8 recipient, server with SMTPUTF8", body, "josé@example.net", true,
			want{status: Delivered, code: 250, mx: "mx1.test", reply: "250"}, "", true, true},
		{"utf8 recipient, server without SMTPUTF8", body, "josé@example.net", false,
			want{status: Permanent, mx: "mx1.test", enhanced: "5.6.7", reply: "needs SMTPUTF8, which mx1.test does not support"}, "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.dns.Add("example.net. MX 10 mx1.test.")
			var opts []sinkOption
			if tt.utf8 {
				opts = append(opts, withUTF8())
			}
			s := serveSink(t, e.ln2, opts...)
			got := e.deliverer(t).Deliver(context.Background(), message(tt.data, tt.rcpt))
			check(t, got, []string{tt.rcpt}, tt.want)
			rec := s.received()
			if !tt.delivered {
				if len(rec) != 0 {
					t.Errorf("sink got %+v", rec)
				}
				return
			}
			if len(rec) != 1 {
				t.Fatalf("sink got %d transactions", len(rec))
			}
			if string(rec[0].Opts.Body) != tt.wantBody || rec[0].Opts.UTF8 != tt.wantUTF8 {
				t.Errorf("MAIL parameters %+v, want BODY=%q SMTPUTF8=%v", rec[0].Opts, tt.wantBody, tt.wantUTF8)
			}
			if string(rec[0].Data) != tt.data {
				t.Errorf("body arrived as %q", rec[0].Data)
			}
		})
	}
}

func TestMixedUTF8Recipients(t *testing.T) {
	e := newEnv(t)
	e.dns.Add("example.net. MX 10 mx1.test.")
	s := serveSink(t, e.ln2)
	rcpts := []string{"josé@example.net", "joe@example.net"}
	got := e.deliverer(t).Deliver(context.Background(), message(body, rcpts...))
	check(t, got, rcpts,
		want{status: Permanent, mx: "mx1.test", enhanced: "5.6.7", reply: "SMTPUTF8"},
		want{status: Delivered, code: 250, mx: "mx1.test", reply: "250"})
	if rec := s.received(); len(rec) != 1 || strings.Join(rec[0].Rcpts, ",") != "joe@example.net" {
		t.Errorf("sink got %+v", rec)
	}
}

func TestLocalAddrs(t *testing.T) {
	e := newEnv(t)
	e.dns.Add("example.net. MX 10 mx1.test.")
	s := serveSink(t, e.ln2)

	d := e.deliverer(t, func(c *Config) { c.LocalAddrs = []net.IP{net.ParseIP("::1"), net.ParseIP("127.0.0.5")} })
	got := d.Deliver(context.Background(), message(body, "u@example.net"))
	if got[0].Status != Delivered {
		t.Fatalf("got %+v", got[0])
	}
	if rec := s.received(); len(rec) != 1 || rec[0].Remote != "127.0.0.5" {
		t.Errorf("sink saw the connection from %+v, want 127.0.0.5", rec)
	}

	// No egress address of the destination's family: not deliverable now.
	d = e.deliverer(t, func(c *Config) { c.LocalAddrs = []net.IP{net.ParseIP("::1")} })
	got = d.Deliver(context.Background(), message(body, "u@example.net"))
	check(t, got, []string{"u@example.net"}, want{status: Transient, mx: "mx1.test", reply: "no egress address"})
}

func TestTimeoutsAndDrops(t *testing.T) {
	short := func(c *Config) {
		c.CommandTimeout = 300 * time.Millisecond
		c.DataTimeout = 300 * time.Millisecond
	}
	t.Run("no greeting", func(t *testing.T) {
		e := newEnv(t)
		e.dns.Add("example.net. MX 10 mx1.test.")
		rawPeer(t, e.ln2, func(c net.Conn) { io.Copy(io.Discard, c) })
		got := e.deliverer(t, short).Deliver(context.Background(), message(body, "u@example.net"))
		check(t, got, []string{"u@example.net"},
			want{status: Transient, mx: "mx1.test", enhanced: "4.4.2", reply: "waiting for the greeting: timed out"})
	})
	t.Run("no reply to the final dot", func(t *testing.T) {
		e := newEnv(t)
		e.dns.Add("example.net. MX 10 mx1.test.")
		s := serveSink(t, e.ln2)
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		s.onDataStart = func(*smtp.Conn, io.Reader) error { <-release; return nil }
		rcpts := []string{"a@example.net", "b@example.net"}
		got := e.deliverer(t, short).Deliver(context.Background(), message(body, rcpts...))
		w := want{status: Transient, mx: "mx1.test", reply: "waiting for the reply to the end of the message: timed out"}
		check(t, got, rcpts, w, w)
	})
	t.Run("connection dropped during DATA", func(t *testing.T) {
		e := newEnv(t)
		e.dns.Add("example.net. MX 10 mx1.test.")
		s := serveSink(t, e.ln2)
		s.onDataStart = func(c *smtp.Conn, r io.Reader) error {
			io.CopyN(io.Discard, r, 1000)
			c.Conn().Close()
			return errDropped
		}
		big := body + strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", 1<<14)
		got := e.deliverer(t).Deliver(context.Background(), message(big, "u@example.net"))
		check(t, got, []string{"u@example.net"}, want{status: Transient, mx: "mx1.test", enhanced: "4.4.2", reply: "lost connection with mx1.test[127.0.0.2]"})
	})
	t.Run("context cancelled mid-session", func(t *testing.T) {
		e := newEnv(t)
		e.dns.Add("example.net. MX 10 mx1.test.")
		s := serveSink(t, e.ln2)
		ctx, cancel := context.WithCancel(context.Background())
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		s.onDataStart = func(*smtp.Conn, io.Reader) error { cancel(); <-release; return nil }
		got := e.deliverer(t).Deliver(ctx, message(body, "u@example.net"))
		check(t, got, []string{"u@example.net"}, want{status: Transient, mx: "mx1.test", enhanced: "4.4.7", reply: "delivery interrupted"})
	})
	t.Run("spool read failure", func(t *testing.T) {
		e := newEnv(t)
		e.dns.Add("example.net. MX 10 mx1.test.")
		s := serveSink(t, e.ln2)
		m := message(body, "u@example.net")
		m.Open = func() (io.ReadCloser, error) { return nil, errors.New("disk on fire") }
		got := e.deliverer(t).Deliver(context.Background(), m)
		check(t, got, []string{"u@example.net"}, want{status: Transient, reply: "disk on fire"})
		if len(s.received()) != 0 {
			t.Error("something was delivered")
		}
	})
}

func TestMaxPerDomain(t *testing.T) {
	e := newEnv(t)
	e.dns.Add("example.net. MX 10 mx1.test.")
	s := serveSink(t, e.ln2)
	s.onDataStart = func(*smtp.Conn, io.Reader) error { time.Sleep(100 * time.Millisecond); return nil }
	d := e.deliverer(t, func(c *Config) { c.MaxPerDomain = 1 })
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			got := d.Deliver(context.Background(), message(body, "u"+strconv.Itoa(i)+"@example.net"))
			if got[0].Status != Delivered {
				t.Errorf("message %d: %+v", i, got[0])
			}
		})
	}
	wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.maxActiv != 1 {
		t.Errorf("%d sessions at once for one domain, want at most 1", s.maxActiv)
	}
	if len(d.limit.slots) != 0 {
		t.Errorf("limiter kept %d idle entries", len(d.limit.slots))
	}
}

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestSmarthost(t *testing.T) {
	const password = "s3cret-Pa55"
	cert, pool := selfSigned(t, []string{"smarthost.test"}, nil)
	users := map[string]string{"relay": password}

	tests := []struct {
		name     string
		implicit bool
		opts     []sinkOption
		user     string
		password string
		pool     bool
		want     want
		wantAuth int // AUTH attempts the sink saw
		wantUser string
	}{
		{"STARTTLS and PLAIN", false, []sinkOption{withTLS(cert), withAuth([]string{"PLAIN", "LOGIN"}, users)},
			"relay", password, true, want{status: Delivered, code: 250, mx: "smarthost.test", tls: "TLS1.3", reply: "250"}, 1, "relay"},
		{"STARTTLS and LOGIN", false, []sinkOption{withTLS(cert), withAuth([]string{"LOGIN"}, users)},
			"relay", password, true, want{status: Delivered, code: 250, mx: "smarthost.test", tls: "TLS1.3", reply: "250"}, 1, "relay"},
		{"implicit TLS and PLAIN", true, []sinkOption{withAuth([]string{"PLAIN"}, users)},
			"relay", password, true, want{status: Delivered, code: 250, mx: "smarthost.test", tls: "TLS1.3", reply: "250"}, 1, "relay"},
		{"no AUTH configured", false, []sinkOption{withTLS(cert)},
			"", "", true, want{status: Delivered, code: 250, mx: "smarthost.test", tls: "TLS1.3", reply: "250"}, 0, ""},
		{"no STARTTLS offered", false, []sinkOption{withAuth([]string{"PLAIN"}, users)},
			"relay", password, true, want{status: Transient, mx: "smarthost.test", enhanced: "4.7.0", reply: "does not offer STARTTLS"}, 0, ""},
		{"untrusted certificate", false, []sinkOption{withTLS(cert), withAuth([]string{"PLAIN"}, users)},
			"relay", password, false, want{status: Transient, mx: "smarthost.test", enhanced: "4.7.0", reply: "TLS handshake with smarthost"}, 0, ""},
		{"wrong password", false, []sinkOption{withTLS(cert), withAuth([]string{"PLAIN"}, users)},
			"relay", "wrong-" + password, true, want{status: Transient, code: 535, mx: "smarthost.test", tls: "TLS1.3", enhanced: "4.7.8", reply: "rejected the login of relay: 535 5.7.8"}, 1, ""},
		{"no usable mechanism", false, []sinkOption{withTLS(cert), withAuth([]string{"XOAUTH2"}, users)},
			"relay", password, true, want{status: Transient, mx: "smarthost.test", reply: "offers neither AUTH PLAIN nor AUTH LOGIN"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.dns.Add("smarthost.test. A 127.0.0.2")
			ln := e.ln2
			if tt.implicit {
				ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
			}
			s := serveSink(t, ln, tt.opts...)
			logs := &syncBuffer{}
			d := e.deliverer(t, func(c *Config) {
				c.Mode = ModeSmarthost
				c.Smarthost = "smarthost.test:" + strconv.Itoa(e.port)
				c.SmarthostUser = tt.user
				c.SmarthostPassword = tt.password
				if tt.implicit {
					c.SmarthostTLS = TLSImplicit
				}
				if tt.pool {
					c.SmarthostTLSConfig = &tls.Config{RootCAs: pool}
				}
				c.Logger = slog.New(slog.NewJSONHandler(io.MultiWriter(logs, t.Output()), &slog.HandlerOptions{Level: slog.LevelDebug}))
			})
			rcpts := []string{"a@one.example", "b@two.example"}
			got := d.Deliver(context.Background(), message(body, rcpts...))
			check(t, got, rcpts, tt.want, tt.want)

			s.mu.Lock()
			authSeen := s.authSeen
			s.mu.Unlock()
			if authSeen != tt.wantAuth {
				t.Errorf("sink saw %d AUTH attempts, want %d", authSeen, tt.wantAuth)
			}
			rec := s.received()
			if tt.want.status == Delivered {
				if len(rec) != 1 || strings.Join(rec[0].Rcpts, ",") != "a@one.example,b@two.example" ||
					rec[0].User != tt.wantUser || !rec[0].TLS {
					t.Errorf("sink got %+v, want one TLS transaction for both recipients by %q", rec, tt.wantUser)
				}
			} else if len(rec) != 0 {
				t.Errorf("sink got %+v", rec)
			}
			for _, r := range got {
				if tt.password != "" && strings.Contains(r.Reply, tt.password) {
					t.Errorf("reply leaks the password: %q", r.Reply)
				}
			}
			if tt.password != "" && strings.Contains(logs.String(), tt.password) {
				t.Error("logs leak the password")
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tx := &txn{d: &Deliverer{cfg: Config{SmarthostUser: "relay", SmarthostPassword: "pw123"}}}
	for _, in := range []string{
		"535 bad pw123",
		"535 bad cHcxMjM=",              // base64("pw123")
		"535 bad AHJlbGF5AHB3MTIz echo", // base64("\0relay\0pw123")
	} {
		out := tx.redact(in)
		if strings.Contains(out, "pw123") || strings.Contains(out, "cHcxMjM=") || strings.Contains(out, "AHJlbGF5AHB3MTIz") ||
			!strings.Contains(out, "[redacted]") {
			t.Errorf("redact(%q) = %q", in, out)
		}
	}
}

func TestNewValidates(t *testing.T) {
	res, err := resolver.New(resolver.Options{Servers: []string{"127.0.0.1:53"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"mx defaults", Config{Hostname: "h", Resolver: res}, true},
		{"no hostname", Config{Resolver: res}, false},
		{"mx without resolver", Config{Hostname: "h"}, false},
		{"bad mode", Config{Hostname: "h", Resolver: res, Mode: "carrier-pigeon"}, false},
		{"smarthost without port", Config{Hostname: "h", Mode: ModeSmarthost, Smarthost: "smtp.example"}, false},
		{"smarthost by IP needs no resolver", Config{Hostname: "h", Mode: ModeSmarthost, Smarthost: "127.0.0.1:587"}, true},
		{"smarthost by name needs a resolver", Config{Hostname: "h", Mode: ModeSmarthost, Smarthost: "smtp.example:587"}, false},
		{"bad TLS mode", Config{Hostname: "h", Mode: ModeSmarthost, Smarthost: "127.0.0.1:25", SmarthostTLS: "none"}, false},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		if (err == nil) != tt.ok {
			t.Errorf("%s: New error %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
	for port, mode := range map[string]string{"465": TLSImplicit, "587": TLSStartTLS, "25": TLSStartTLS} {
		d, err := New(Config{Hostname: "h", Mode: ModeSmarthost, Smarthost: "127.0.0.1:" + port})
		if err != nil || d.cfg.SmarthostTLS != mode {
			t.Errorf("port %s: TLS mode %q (%v), want %q", port, d.cfg.SmarthostTLS, err, mode)
		}
	}
}
