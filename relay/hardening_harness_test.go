package relay

// The harness of the hardening tests (issue 8): a relay run in-process
// against the test DNS server, delivering to recording SMTP sinks on other
// loopback addresses (127.0.0.2, .3, .4 act as separate hosts; on Linux the
// whole of 127.0.0.0/8 is routed to lo).

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
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
	"dkimrelay/internal/selfsigned"
	"dkimrelay/keys"
	"dkimrelay/resolver"
	"dkimrelay/resolver/dnstest"
	"dkimrelay/users"
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
	dnsAddr    string // dns.servers, when not the test DNS server itself
	// beforeRun, when set, runs between New and Run: the place to
	// install a queue fault hook while nothing else uses the queue.
	beforeRun func(r *Relay)
}

// hardRelay is one relay under test. Stop and Start run it again on the
// same data dir, as a restart would.
type hardRelay struct {
	t    *testing.T
	opts hardOptions
	cfg  *config.Config
	logs *lockedBuffer
	dns  *dnstest.Server

	r      *Relay
	cancel context.CancelFunc
	done   chan error
}

// hardConfig writes a config for dir and returns it loaded. The lines of
// o.submission, o.delivery and o.keys override the harness's defaults.
func hardConfig(t *testing.T, dir string, dns *dnstest.Server, o hardOptions) *config.Config {
	t.Helper()
	dnsAddr := dns.Addr()
	if o.dnsAddr != "" {
		dnsAddr = o.dnsAddr
	}
	if o.spf == "" {
		o.spf = "off"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "hostname = \"relay.example.net\"\ndata_dir = \"data\"\n")
	writeTable(&b, "submission", []string{
		`listen = ["127.0.0.1:0"]`, `listen_tls = ["127.0.0.1:0"]`, `tls_cert = "tls/cert.pem"`,
		`tls_key = "tls/key.pem"`, `allow_insecure_auth = true`,
	}, o.submission)
	fmt.Fprintf(&b, "[[domains]]\nname = %q\n", hardDomain)
	writeTable(&b, "delivery", []string{
		fmt.Sprintf("port = %d", max(o.port, 1)), `egress_ips = ["127.0.0.1"]`, fmt.Sprintf("spf_policy = %q", o.spf),
		`workers = 2`, `retry_min = "1s"`, `retry_max = "2s"`, `connect_timeout = "2s"`, `command_timeout = "2s"`,
	}, o.delivery)
	writeTable(&b, "dns", []string{fmt.Sprintf("servers = [%q]", dnsAddr), `timeout = "1s"`}, "")
	writeTable(&b, "keys", nil, o.keys)
	path := filepath.Join(dir, "dkimrelay.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	return cfg
}

// writeTable writes a TOML table of the default lines, each replaced by
// the line of extra that sets the same key, then the other lines of extra.
func writeTable(b *strings.Builder, name string, defaults []string, extra string) {
	key := func(line string) string { k, _, _ := strings.Cut(line, "="); return strings.TrimSpace(k) }
	over := map[string]string{}
	var order []string
	for _, l := range strings.Split(extra, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		over[key(l)] = l
		order = append(order, key(l))
	}
	fmt.Fprintf(b, "[%s]\n", name)
	for _, l := range defaults {
		if o, ok := over[key(l)]; ok {
			l = o
			delete(over, key(l))
		}
		b.WriteString(l + "\n")
	}
	for _, k := range order {
		if l, ok := over[k]; ok {
			b.WriteString(l + "\n")
		}
	}
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
	cfg := hardConfig(t, t.TempDir(), dns, o)
	if err := selfsigned.Write(cfg.Submission.TLSCert, cfg.Submission.TLSKey, cfg.Hostname); err != nil {
		t.Fatal(err)
	}
	st, err := keys.Open(cfg.KeysDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	k, err := st.Generate(hardDomain, keys.Ed25519, "", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Activate(hardDomain, k.Selector, now); err != nil {
		t.Fatal(err)
	}
	publishKey(t, dns, k)
	if err := users.Update(cfg.UsersFile(), func(db *users.DB) error {
		return db.Add("app", testPassword, []string{"@" + hardDomain})
	}); err != nil {
		t.Fatal(err)
	}
	return &hardRelay{t: t, opts: o, cfg: cfg, logs: &lockedBuffer{}, dns: dns}
}

// publishKey adds k's DKIM record to the test DNS.
func publishKey(t *testing.T, dns *dnstest.Server, k *keys.Key) {
	t.Helper()
	zone, err := k.Zone()
	if err != nil {
		t.Fatal(err)
	}
	dns.AddZone(zone)
}

// Start runs the relay until Stop or the end of the test.
func (h *hardRelay) Start() {
	h.t.Helper()
	r, err := New(h.cfg, slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		h.t.Fatal(err)
	}
	if h.opts.beforeRun != nil {
		h.opts.beforeRun(r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.r, h.cancel, h.done = r, cancel, make(chan error, 1)
	go func() { h.done <- r.Run(ctx) }()
	h.t.Cleanup(h.Stop)
	deadline := time.Now().Add(10 * time.Second)
	for len(r.smtp.Addrs()) < 2 {
		select {
		case err := <-h.done:
			h.t.Fatalf("the relay stopped while starting: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			h.t.Fatal("the relay did not start listening")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop drains the relay; it does nothing when it is not running.
func (h *hardRelay) Stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Errorf("relay: %v", err)
	}
	h.cancel = nil
}

// Addr is the STARTTLS listener, TLSAddr the implicit-TLS one.
func (h *hardRelay) Addr() string    { return h.r.smtp.Addrs()[0].String() }
func (h *hardRelay) TLSAddr() string { return h.r.smtp.Addrs()[1].String() }

// waitEvent waits for an event named msg for which match is true, and
// returns it.
func (h *hardRelay) waitEvent(msg string, timeout time.Duration, match func(ev map[string]any) bool) map[string]any {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, ev := range h.logs.events(msg) {
			if match == nil || match(ev) {
				return ev
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("no %q event within %v; log:\n%s", msg, timeout, h.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// eventsFor returns the events named msg of message qid.
func (h *hardRelay) eventsFor(msg, qid string) []map[string]any {
	var out []map[string]any
	for _, ev := range h.logs.events(msg) {
		if ev["qid"] == qid {
			out = append(out, ev)
		}
	}
	return out
}

// logTail is the end of the relay's log, for failure messages.
func (h *hardRelay) logTail() string {
	h.logs.mu.Lock()
	defer h.logs.mu.Unlock()
	s := h.logs.b.String()
	if len(s) > 6000 {
		s = "..." + s[len(s)-6000:]
	}
	return s
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
	c, err := smtp.DialStartTLS(addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", "app", testPassword)); err != nil {
		t.Fatal(err)
	}
	return sendOn(t, c, "app@"+hardDomain, to, msg)
}

// sendOn runs one mail transaction on an open client.
func sendOn(t *testing.T, c *smtp.Client, from string, to []string, msg string) (string, *smtp.SMTPError) {
	t.Helper()
	refused := func(err error) *smtp.SMTPError {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return se
		}
		t.Fatalf("submission: %v", err)
		return nil
	}
	if err := c.Mail(from, nil); err != nil {
		return "", refused(err)
	}
	for _, rc := range to {
		if err := c.Rcpt(rc, nil); err != nil {
			return "", refused(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return "", refused(err)
	}
	io.WriteString(w, msg)
	resp, err := w.CloseWithResponse()
	if err != nil {
		return "", refused(err)
	}
	_, qid, ok := strings.Cut(resp.StatusText, "queued as ")
	if !ok {
		t.Fatalf("250 without a QID: %q", resp.StatusText)
	}
	return strings.TrimSpace(qid), nil
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

// hardListeners listens on one port P on each of hosts and returns the
// listeners and P: the relay's delivery.port is one for every MX host.
func hardListeners(t *testing.T, hosts ...string) ([]net.Listener, int) {
	t.Helper()
	for range 50 {
		first, err := net.Listen("tcp", net.JoinHostPort(hosts[0], "0"))
		if err != nil {
			t.Fatalf("listen on %s: %v", hosts[0], err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		ls := []net.Listener{first}
		for _, h := range hosts[1:] {
			l, err := net.Listen("tcp", fmt.Sprintf("%s:%d", h, port))
			if err != nil {
				break
			}
			ls = append(ls, l)
		}
		if len(ls) == len(hosts) {
			t.Cleanup(func() {
				for _, l := range ls {
					l.Close()
				}
			})
			return ls, port
		}
		for _, l := range ls {
			l.Close()
		}
	}
	t.Fatalf("no port free on all of %v", hosts)
	return nil, 0
}

// hardMail is one message a sink received.
type hardMail struct {
	From string
	To   []string
	Data []byte
}

// hardSink is a recording SMTP server, the remote MX of the tests.
type hardSink struct {
	mu    sync.Mutex
	mails []hardMail
	rcpts int // RCPT commands seen
	// reply decides the answer to RCPT (arg: the address) and to the end
	// of DATA (arg: "DATA"); nil or a nil result accepts.
	reply func(stage, arg string) *smtp.SMTPError
	// data, when set, takes over the reading of DATA: c is the session's
	// connection (to drop it), r the message.
	data func(c *smtp.Conn, r io.Reader) error
}

// serveSink serves a new sink on l until the test ends.
func serveSink(t *testing.T, l net.Listener) *hardSink {
	s := &hardSink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &hardSinkSession{s: s, c: c}, nil
	}))
	srv.Domain = "sink.test"
	srv.EnableSMTPUTF8 = true
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *hardSink) setReply(f func(stage, arg string) *smtp.SMTPError) {
	s.mu.Lock()
	s.reply = f
	s.mu.Unlock()
}

func (s *hardSink) setData(f func(c *smtp.Conn, r io.Reader) error) {
	s.mu.Lock()
	s.data = f
	s.mu.Unlock()
}

func (s *hardSink) all() []hardMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]hardMail(nil), s.mails...)
}

// withText returns the messages whose data contains text.
func (s *hardSink) withText(text string) []hardMail {
	var out []hardMail
	for _, m := range s.all() {
		if bytes.Contains(m.Data, []byte(text)) {
			out = append(out, m)
		}
	}
	return out
}

// waitText waits until a message containing text arrived and returns it.
func (s *hardSink) waitText(t *testing.T, text string, timeout time.Duration) hardMail {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if ms := s.withText(text); len(ms) > 0 {
			return ms[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message with %q arrived within %v (%d arrived)", text, timeout, len(s.all()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type hardSinkSession struct {
	s    *hardSink
	c    *smtp.Conn
	from string
	to   []string
}

func (ss *hardSinkSession) answer(stage, arg string) error {
	ss.s.mu.Lock()
	f := ss.s.reply
	ss.s.mu.Unlock()
	if f == nil {
		return nil
	}
	if se := f(stage, arg); se != nil {
		return se
	}
	return nil
}

func (ss *hardSinkSession) AuthMechanisms() []string { return nil }
func (ss *hardSinkSession) Auth(string) (sasl.Server, error) {
	return nil, smtp.ErrAuthUnsupported
}

func (ss *hardSinkSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}

func (ss *hardSinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	ss.s.rcpts++
	ss.s.mu.Unlock()
	if err := ss.answer("RCPT", to); err != nil {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *hardSinkSession) Data(r io.Reader) error {
	ss.s.mu.Lock()
	hook := ss.s.data
	ss.s.mu.Unlock()
	if hook != nil {
		return hook(ss.c, r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := ss.answer("DATA", "DATA"); err != nil {
		return err
	}
	ss.s.mu.Lock()
	ss.s.mails = append(ss.s.mails, hardMail{From: ss.from, To: append([]string(nil), ss.to...), Data: b})
	ss.s.mu.Unlock()
	return nil
}

func (ss *hardSinkSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *hardSinkSession) Logout() error { return nil }

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
