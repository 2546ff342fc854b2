package delivery

// Test peers: go-smtp servers acting as receiving MX hosts or smarthosts,
// raw TCP listeners for misbehaving peers, and a self-signed certificate.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// received is one transaction a sink completed (or saw begin).
type received struct {
	Helo   string
	From   string
	Opts   smtp.MailOptions
	Rcpts  []string
	Data   []byte
	TLS    bool
	Remote string // the client's IP
	User   string // authenticated user, if any
}

// sink is a go-smtp server recording what it receives. Its hooks decide
// the replies.
type sink struct {
	t      testing.TB
	srv    *smtp.Server
	Addr   string
	onMail func(from string) error
	onRcpt func(to string) error
	onData func(data []byte) error
	// onDataStart runs on the session's connection before the body is
	// read, to misbehave (drop, stall).
	onDataStart func(conn *smtp.Conn, r io.Reader) error
	// users for AUTH; mechs advertised ("PLAIN", "LOGIN").
	users map[string]string
	mechs []string

	mu       sync.Mutex
	got      []received
	authSeen int // AUTH attempts, successful or not
	active   int
	maxActiv int
}

type sinkOption func(*sink)

func withTLS(cert tls.Certificate) sinkOption {
	return func(s *sink) {
		s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
}

func withAuth(mechs []string, users map[string]string) sinkOption {
	return func(s *sink) { s.mechs, s.users = mechs, users }
}

func withUTF8() sinkOption { return func(s *sink) { s.srv.EnableSMTPUTF8 = true } }

// serveSink starts a sink on ln (plain or implicit TLS, as ln is).
func serveSink(t testing.TB, ln net.Listener, opts ...sinkOption) *sink {
	s := &sink{t: t, Addr: ln.Addr().String()}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "sink.test"
	s.srv.ReadTimeout = 10 * time.Second
	s.srv.WriteTimeout = 10 * time.Second
	s.srv.AllowInsecureAuth = true // so the "no STARTTLS" test can see if AUTH is tried
	for _, o := range opts {
		o(s)
	}
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

func (s *sink) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

func (s *sink) NewSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	host, _, _ := net.SplitHostPort(c.Conn().RemoteAddr().String())
	return &sinkSession{s: s, c: c, cur: received{Helo: c.Hostname(), TLS: isTLS, Remote: host}}, nil
}

type sinkSession struct {
	s    *sink
	c    *smtp.Conn
	cur  received
	user string
}

func (ss *sinkSession) AuthMechanisms() []string { return ss.s.mechs }

func (ss *sinkSession) Auth(mech string) (sasl.Server, error) {
	ss.s.mu.Lock()
	ss.s.authSeen++
	ss.s.mu.Unlock()
	check := func(user, pass string) error {
		if want, ok := ss.s.users[user]; !ok || want != pass {
			return smtp.ErrAuthFailed
		}
		ss.user = user
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *sinkSession) Mail(from string, opts *smtp.MailOptions) error {
	_, isTLS := ss.c.TLSConnectionState()
	ss.cur = received{Helo: ss.c.Hostname(), TLS: isTLS, Remote: ss.cur.Remote, From: from, User: ss.user}
	if opts != nil {
		ss.cur.Opts = *opts
	}
	if ss.s.onMail != nil {
		return ss.s.onMail(from)
	}
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.s.onRcpt != nil {
		if err := ss.s.onRcpt(to); err != nil {
			return err
		}
	}
	ss.cur.Rcpts = append(ss.cur.Rcpts, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	ss.s.mu.Lock()
	ss.s.active++
	ss.s.maxActiv = max(ss.s.maxActiv, ss.s.active)
	ss.s.mu.Unlock()
	defer func() {
		ss.s.mu.Lock()
		ss.s.active--
		ss.s.mu.Unlock()
	}()
	if ss.s.onDataStart != nil {
		if err := ss.s.onDataStart(ss.c, r); err != nil {
			return err
		}
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.cur.Data = data
	if ss.s.onData != nil {
		if err := ss.s.onData(data); err != nil {
			return err
		}
	}
	ss.s.mu.Lock()
	ss.s.got = append(ss.s.got, ss.cur)
	ss.s.mu.Unlock()
	return nil
}

func (ss *sinkSession) Reset()        {}
func (ss *sinkSession) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN, which go-sasl lacks.
type loginServer struct {
	check func(user, pass string) error
	user  string
	step  int
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step++
		if resp == nil {
			return []byte("Username:"), false, nil
		}
		l.user = string(resp)
		l.step++
		return []byte("Password:"), false, nil
	case 1:
		l.user = string(resp)
		l.step++
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(resp))
	}
}

// listenSame listens on the same free port on every IP: in mx mode the
// deliverer uses one port for all hosts.
func listenSame(t testing.TB, ips ...string) (int, []net.Listener) {
	t.Helper()
	for range 50 {
		first, err := net.Listen("tcp", net.JoinHostPort(ips[0], "0"))
		if err != nil {
			t.Fatal(err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{first}
		ok := true
		for _, ip := range ips[1:] {
			ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
			if err != nil {
				ok = false
				break
			}
			lns = append(lns, ln)
		}
		if ok {
			t.Cleanup(func() {
				for _, ln := range lns {
					ln.Close()
				}
			})
			return port, lns
		}
		for _, ln := range lns {
			ln.Close()
		}
	}
	t.Fatal("no port free on all of", ips)
	return 0, nil
}

// rawPeer accepts connections on ln and hands each to handle.
func rawPeer(t testing.TB, ln net.Listener, handle func(net.Conn)) {
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				handle(conn)
			})
		}
	})
}

// selfSigned makes a certificate for the given names and IPs.
func selfSigned(t testing.TB, names []string, ips []net.IP) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		IPAddresses:  ips,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true,

		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// smtpErr is a reply for sink hooks.
func smtpErr(code int, enhanced string, msg string) error {
	var ec smtp.EnhancedCode
	if _, err := fmt.Sscanf(enhanced, "%d.%d.%d", &ec[0], &ec[1], &ec[2]); err != nil {
		panic(err)
	}
	return &smtp.SMTPError{Code: code, EnhancedCode: ec, Message: msg}
}

var errDropped = errors.New("dropped")
