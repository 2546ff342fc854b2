package integration

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// The two loopback addresses that play the remote mail servers. On Linux the
// whole of 127.0.0.0/8 is routed to lo, so each is a host of its own.
const (
	hostA = "127.0.0.2"
	hostB = "127.0.0.3"
)

// sinkMessage is one message a sink accepted, as it came off the wire.
type sinkMessage struct {
	Host     string // the sink's address, hostA or hostB
	From     string // reverse path; "" for a null sender (DSN)
	To       []string
	Data     []byte // exactly the DATA bytes, CRLF line ends, dot-unstuffed
	TLS      bool   // the transaction ran after STARTTLS
	AuthUser string // the SASL login, when the sink asked for one
	TestID   string // the X-Test-ID header field, how tests tell messages apart
}

// Header returns the first value of the header field name, unfolded.
func (m sinkMessage) Header(name string) string {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return ""
	}
	return msg.Header.Get(name)
}

// phase names an SMTP step a sink can be told to refuse.
type phase string

const (
	phaseMail phase = "MAIL"
	phaseRcpt phase = "RCPT"
	phaseData phase = "DATA"
)

// responder decides a sink's answer to one step: nil accepts, an
// *smtp.SMTPError is sent as the reply. arg is the address for MAIL and RCPT
// and the comma-joined recipients for DATA.
type responder func(p phase, arg string) *smtp.SMTPError

// sink is a recording SMTP server on one loopback host.
type sink struct {
	host   string
	ln     net.Listener
	server *smtp.Server

	mu        sync.Mutex
	msgs      []sinkMessage
	respond   responder
	authUser  string // when set, MAIL requires AUTH PLAIN with these
	authPass  string
	attempts  map[string]int // RCPT commands seen per recipient
	authFails int
}

// sinkPair is the two sinks of a test, on hostA and hostB with one port,
// because the relay's delivery.port is the same for every MX host.
type sinkPair struct {
	A, B *sink
	Port int
}

// newSinkPair starts sinks on hostA:P and hostB:P for a port P free on
// both. They offer STARTTLS with a self-signed certificate, as most MX hosts
// do, and stop when the test ends.
func newSinkPair(t testing.TB) *sinkPair {
	t.Helper()
	for range 50 {
		lnA, err := net.Listen("tcp", net.JoinHostPort(hostA, "0"))
		if err != nil {
			t.Fatalf("sink: listen on %s: %v", hostA, err)
		}
		port := lnA.Addr().(*net.TCPAddr).Port
		lnB, err := net.Listen("tcp", fmt.Sprintf("%s:%d", hostB, port))
		if err != nil {
			lnA.Close()
			continue // taken on hostB; try another port
		}
		p := &sinkPair{A: startSink(t, hostA, lnA), B: startSink(t, hostB, lnB), Port: port}
		return p
	}
	t.Fatal("sink: found no port free on both 127.0.0.2 and 127.0.0.3")
	return nil
}

func startSink(t testing.TB, host string, ln net.Listener) *sink {
	s := &sink{host: host, ln: ln, attempts: map[string]int{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &sinkSession{sink: s, conn: c}, nil
	}))
	srv.Domain = "sink-" + host
	srv.TLSConfig = sinkTLSConfig(t)
	srv.MaxMessageBytes = 64 << 20
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	s.server = srv
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

// stop takes the sink down: its port then refuses connections, as a dead
// host's would.
func (s *sink) stop() { s.server.Close() }

// setResponder installs r; nil accepts everything.
func (s *sink) setResponder(r responder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.respond = r
}

// requireAuth makes MAIL fail with 530 until the client authenticated with
// AUTH PLAIN as user/pass. go-smtp offers AUTH only after STARTTLS.
func (s *sink) requireAuth(user, pass string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authUser, s.authPass = user, pass
}

// messages returns a copy of what the sink accepted so far.
func (s *sink) messages() []sinkMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sinkMessage(nil), s.msgs...)
}

// rcptAttempts is how many RCPT commands named rcpt, accepted or not.
func (s *sink) rcptAttempts(rcpt string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[strings.ToLower(rcpt)]
}

func (s *sink) answer(p phase, arg string) error {
	s.mu.Lock()
	r := s.respond
	s.mu.Unlock()
	if r == nil {
		return nil
	}
	if e := r(p, arg); e != nil {
		return e
	}
	return nil
}

// all returns the messages of both sinks.
func (p *sinkPair) all() []sinkMessage {
	return append(p.A.messages(), p.B.messages()...)
}

// waitFor polls both sinks until cond holds for what they accepted, and
// fails the test with what did arrive after timeout.
func (p *sinkPair) waitFor(t testing.TB, timeout time.Duration, what string, cond func([]sinkMessage) bool) []sinkMessage {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msgs := p.all()
		if cond(msgs) {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("sinks: waited %v for %s; they hold %d message(s): %s", timeout, what, len(msgs), summarize(msgs))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// waitForTestID waits until a message carrying "X-Test-ID: id" arrived and
// returns the first such message.
func (p *sinkPair) waitForTestID(t testing.TB, timeout time.Duration, id string) sinkMessage {
	t.Helper()
	msgs := p.waitFor(t, timeout, "X-Test-ID "+id, func(ms []sinkMessage) bool {
		return len(withTestID(ms, id)) > 0
	})
	return withTestID(msgs, id)[0]
}

// withTestID filters messages by their X-Test-ID header.
func withTestID(msgs []sinkMessage, id string) []sinkMessage {
	var out []sinkMessage
	for _, m := range msgs {
		if m.TestID == id {
			out = append(out, m)
		}
	}
	return out
}

func summarize(msgs []sinkMessage) string {
	var b strings.Builder
	for i, m := range msgs {
		if i == 10 {
			fmt.Fprintf(&b, " ... and %d more", len(msgs)-i)
			break
		}
		fmt.Fprintf(&b, "[%s from=<%s> to=%v id=%q subject=%q] ", m.Host, m.From, m.To, m.TestID, m.Header("Subject"))
	}
	return b.String()
}

// sinkSession is one SMTP connection to a sink.
type sinkSession struct {
	sink     *sink
	conn     *smtp.Conn
	authUser string
	from     string
	to       []string
}

var _ smtp.AuthSession = (*sinkSession)(nil)

func (ss *sinkSession) AuthMechanisms() []string {
	ss.sink.mu.Lock()
	defer ss.sink.mu.Unlock()
	if ss.sink.authUser == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *sinkSession) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		s := ss.sink
		s.mu.Lock()
		defer s.mu.Unlock()
		if (identity != "" && identity != username) || username != s.authUser || password != s.authPass {
			s.authFails++
			return smtp.ErrAuthFailed
		}
		ss.authUser = username
		return nil
	}), nil
}

func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.sink.mu.Lock()
	needAuth := ss.sink.authUser != ""
	ss.sink.mu.Unlock()
	if needAuth && ss.authUser == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	if err := ss.sink.answer(phaseMail, from); err != nil {
		return err
	}
	ss.from = from
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.sink.mu.Lock()
	ss.sink.attempts[strings.ToLower(to)]++
	ss.sink.mu.Unlock()
	if err := ss.sink.answer(phaseRcpt, to); err != nil {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := ss.sink.answer(phaseData, strings.Join(ss.to, ",")); err != nil {
		return err
	}
	_, isTLS := ss.conn.TLSConnectionState()
	m := sinkMessage{
		Host:     ss.sink.host,
		From:     ss.from,
		To:       append([]string(nil), ss.to...),
		Data:     data,
		TLS:      isTLS,
		AuthUser: ss.authUser,
	}
	m.TestID = m.Header("X-Test-ID")
	ss.sink.mu.Lock()
	ss.sink.msgs = append(ss.sink.msgs, m)
	ss.sink.mu.Unlock()
	return nil
}

func (ss *sinkSession) Reset() {
	ss.from = ""
	ss.to = nil
}

func (ss *sinkSession) Logout() error { return nil }

// tempFail and permFail build the replies a responder returns.
func tempFail(msg string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: msg}
}

func permFail(code int, enh smtp.EnhancedCode, msg string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: msg}
}

var (
	sinkCertOnce sync.Once
	sinkCert     tls.Certificate
	sinkCertErr  error
)

// sinkTLSConfig returns a TLS config with one self-signed ECDSA certificate
// shared by every sink (ECDSA keeps the many handshakes of the crash test
// cheap).
func sinkTLSConfig(t testing.TB) *tls.Config {
	t.Helper()
	sinkCertOnce.Do(func() { sinkCert, sinkCertErr = selfSignedCert() })
	if sinkCertErr != nil {
		t.Fatalf("sink: certificate: %v", sinkCertErr)
	}
	return &tls.Config{Certificates: []tls.Certificate{sinkCert}}
}

func selfSignedCert() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sink.example.net"},
		DNSNames:     []string{"sink.example.net", "mx1.example.net", "mx2.example.net", "mx.example.org", "mx.example.com", "smarthost.example.net"},
		IPAddresses:  []net.IP{net.ParseIP(hostA), net.ParseIP(hostB)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
