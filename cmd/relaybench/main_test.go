package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// server is a submission server that wants STARTTLS and AUTH PLAIN and
// counts what it gets.
type server struct {
	mu     sync.Mutex
	msgs   int
	resets int
	auths  int
}

type session struct {
	s     *server
	authd bool
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "bench" || pass != "secret-password" {
			return smtp.ErrAuthFailed
		}
		s.s.mu.Lock()
		s.s.auths++
		s.s.mu.Unlock()
		s.authd = true
		return nil
	}), nil
}
func (s *session) Mail(string, *smtp.MailOptions) error {
	if !s.authd {
		return smtp.ErrAuthRequired
	}
	return nil
}
func (s *session) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *session) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.s.mu.Lock()
	s.s.msgs++
	s.s.mu.Unlock()
	return nil
}
func (s *session) Reset() {
	s.s.mu.Lock()
	s.s.resets++
	s.s.mu.Unlock()
}
func (s *session) Logout() error { return nil }

func startServer(t *testing.T) (*server, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "relay.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	srv.Domain = "relay.test"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s, ln.Addr().String()
}

func TestRun(t *testing.T) {
	s, addr := startServer(t)
	before := time.Now()
	res, err := Run(Options{Addr: addr, User: "bench", Password: "secret-password",
		From: "notifications@example.org", To: "b@example.net", N: 20, C: 3, Size: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 20 || res.Failed != 0 || len(res.Latencies) != 20 {
		t.Errorf("sent %d, failed %d, %d latencies; want 20, 0, 20", res.Sent, res.Failed, len(res.Latencies))
	}
	s.mu.Lock()
	msgs, auths, resets := s.msgs, s.auths, s.resets
	s.mu.Unlock()
	// One AUTH per connection, RSET after every message.
	if msgs != 20 || auths != 3 || resets < 20 {
		t.Errorf("server saw %d messages, %d logins, %d resets; want 20, 3, at least 20", msgs, auths, resets)
	}
	sum := res.Summary()
	if sum.FirstSubmit.Before(before) || sum.LastReply.Before(sum.FirstSubmit) || sum.P50ms <= 0 || sum.Maxms < sum.P99ms {
		t.Errorf("summary times: %+v", sum)
	}
	b, err := json.Marshal(sum)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	json.Unmarshal(b, &back)
	for _, k := range []string{"first_submit", "accepted_per_s", "p99_ms", "sent"} {
		if _, ok := back[k]; !ok {
			t.Errorf("JSON summary lacks %q: %s", k, b)
		}
	}
}

// -reconnect: a connection and a login for every message, no RSET.
func TestRunReconnect(t *testing.T) {
	s, addr := startServer(t)
	res, err := Run(Options{Addr: addr, User: "bench", Password: "secret-password",
		From: "notifications@example.org", To: "b@example.net", N: 10, C: 2, Size: 1024, Reconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 10 || res.Failed != 0 {
		t.Errorf("sent %d, failed %d; want 10, 0", res.Sent, res.Failed)
	}
	s.mu.Lock()
	msgs, auths := s.msgs, s.auths
	s.mu.Unlock()
	if msgs != 10 || auths != 10 {
		t.Errorf("server saw %d messages and %d logins; want 10 and 10", msgs, auths)
	}
	if !res.Summary().Reconnect {
		t.Error("the summary does not say -reconnect")
	}
}

func TestRunBadPassword(t *testing.T) {
	_, addr := startServer(t)
	_, err := Run(Options{Addr: addr, User: "bench", Password: "wrong", From: "a@example.org", To: "b@example.net", N: 2, C: 1, Size: 1024})
	if err == nil {
		t.Error("Run with a wrong password succeeded")
	}
}

func TestMessageSize(t *testing.T) {
	for _, size := range []int{1024, 4096, 100 << 10} {
		m := Message("notifications@example.org", "b@example.net", 1, 0, size)
		if d := len(m) - size; d < -200 || d > 400 {
			t.Errorf("Message of size %d is %d bytes", size, len(m))
		}
	}
}
