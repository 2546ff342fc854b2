// Package smtpsink is a recording SMTP server: the receiving MX or
// smarthost of the tests and the benchmark. It keeps what it receives
// (envelope, body, TLS, login), counts connections, transactions and
// commands, and can be told the reply to each MAIL, RCPT and DATA, to
// require a login, or to stall or drop a transfer in DATA.
package smtpsink

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Phase names an SMTP step whose reply a Sink can be told to choose.
type Phase string

// The steps a Replier answers.
const (
	Mail Phase = "MAIL"
	Rcpt Phase = "RCPT"
	Data Phase = "DATA"
)

// A Replier decides the answer to one step: nil accepts, an error (an
// *smtp.SMTPError for a chosen code) refuses. arg is the address for MAIL
// and RCPT and the comma-joined accepted recipients for DATA.
type Replier func(p Phase, arg string) error

// At is a Replier that answers f(arg) at phase p and accepts the others.
func At(p Phase, f func(arg string) error) Replier {
	return func(q Phase, arg string) error {
		if q != p {
			return nil
		}
		return f(arg)
	}
}

// A DataHook runs when DATA begins, before the body is read: it may read
// part of r, stall, or close c's connection. A non-nil error is the reply
// to DATA and the message is not kept; nil lets the sink read the rest.
type DataHook func(c *smtp.Conn, r io.Reader) error

// Config sets a Sink up. The zero value is a plain MX accepting anything.
type Config struct {
	Hostname        string        // the name in the greeting and EHLO reply; "sink.test" when empty
	TLS             *tls.Config   // offers STARTTLS (RFC 3207) when set
	SMTPUTF8        bool          // advertises SMTPUTF8 (RFC 6531)
	REQUIRETLS      bool          // advertises REQUIRETLS after STARTTLS (RFC 8689)
	MaxMessageBytes int64         // advertised SIZE (RFC 1870); 0: no limit
	MaxRecipients   int           // 0: no limit
	Timeout         time.Duration // read and write timeout; one minute when 0

	// AuthMechs are the SASL mechanisms offered (PLAIN, LOGIN; others are
	// advertised and then refused), Users the logins they accept.
	AuthMechs []string
	Users     map[string]string
	// AuthWithoutTLS offers AUTH before STARTTLS as well.
	AuthWithoutTLS bool
	// RequireAuth answers 530 to MAIL until the client logged in.
	RequireAuth bool

	// Reply and DataHook are the first Replier and DataHook; SetReply and
	// SetDataHook change them.
	Reply    Replier
	DataHook DataHook

	// Discard keeps no messages (long runs); Arrived still sees them.
	Discard bool
	// Arrived, when set, is called with every message the sink accepts,
	// before the 250.
	Arrived func(Message)
	// ErrorLog gets go-smtp's own errors; discarded when nil.
	ErrorLog *log.Logger
}

// Stats are the sink's counters.
type Stats struct {
	Connections  int // TCP connections accepted
	TLSSessions  int // connections in TLS at their first MAIL
	Transactions int // MAIL commands
	Rcpts        int // RCPT commands, accepted or not
	AuthAttempts int // AUTH commands, successful or not
	AuthFailures int // logins refused
	Logins       int // logins accepted
	Resets       int // session resets: RSET, and go-smtp's own after each transaction
	Messages     int // messages accepted
	MaxInData    int // most transfers in DATA at once
}

// Sink is a recording SMTP server. It is safe for concurrent use.
type Sink struct {
	cfg Config
	srv *smtp.Server

	mu       sync.Mutex
	addr     net.Addr
	reply    Replier
	dataHook DataHook
	msgs     []Message
	stats    Stats
	inData   int
	attempts map[string]int // RCPT commands per lower-cased address
}

// New returns a sink set up by cfg; Start serves it.
func New(cfg Config) *Sink {
	s := &Sink{cfg: cfg, attempts: map[string]int{}, reply: cfg.Reply, dataHook: cfg.DataHook}
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = cfg.Hostname
	if srv.Domain == "" {
		srv.Domain = "sink.test"
	}
	srv.TLSConfig = cfg.TLS
	srv.EnableSMTPUTF8 = cfg.SMTPUTF8
	srv.EnableREQUIRETLS = cfg.REQUIRETLS
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	srv.MaxRecipients = cfg.MaxRecipients
	srv.AllowInsecureAuth = cfg.AuthWithoutTLS
	srv.ReadTimeout, srv.WriteTimeout = cfg.Timeout, cfg.Timeout
	if cfg.Timeout == 0 {
		srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	}
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if cfg.ErrorLog != nil {
		srv.ErrorLog = cfg.ErrorLog
	}
	s.srv = srv
	return s
}

// Start serves SMTP on ln (plain, or implicit TLS when ln is a TLS
// listener) until Close.
func (s *Sink) Start(ln net.Listener) {
	s.mu.Lock()
	s.addr = ln.Addr()
	s.mu.Unlock()
	go s.srv.Serve(countingListener{ln, s})
}

// Close stops the sink: its port then refuses connections, as a dead
// host's would.
func (s *Sink) Close() error { return s.srv.Close() }

// Addr is the address the sink listens on, once started.
func (s *Sink) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.addr == nil {
		return ""
	}
	return s.addr.String()
}

// SetReply installs r; nil accepts everything.
func (s *Sink) SetReply(r Replier) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reply = r
}

// SetDataHook installs h; nil reads every body whole.
func (s *Sink) SetDataHook(h DataHook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dataHook = h
}

// Messages returns a copy of the messages accepted so far.
func (s *Sink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Stats returns the counters so far.
func (s *Sink) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// RcptAttempts is how many RCPT commands named addr, accepted or not.
func (s *Sink) RcptAttempts(addr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[strings.ToLower(addr)]
}

func (s *Sink) answer(p Phase, arg string) error {
	s.mu.Lock()
	r := s.reply
	s.mu.Unlock()
	if r == nil {
		return nil
	}
	return r(p, arg)
}

// countingListener counts the TCP connections the sink accepts (go-smtp
// starts a new session after STARTTLS, so sessions would count those
// twice).
type countingListener struct {
	net.Listener
	s *Sink
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.s.mu.Lock()
		l.s.stats.Connections++
		l.s.mu.Unlock()
	}
	return c, err
}
