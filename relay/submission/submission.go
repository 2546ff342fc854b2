// Package submission is the relay's SMTP submission server (RFC 6409): it
// authenticates the application, checks that the login may use the sender
// addresses, turns the sender checks' verdicts into replies, streams the
// message into ingest (which signs and spools it), and says 250 only once
// the queue has it on disk.
package submission

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"dkimrelay/authcheck"
	"dkimrelay/config"
	"dkimrelay/internal/bufpool"
	"dkimrelay/relay/abuse"
	"dkimrelay/relay/ingest"
	"dkimrelay/users"
)

// Config is what the server needs: the [submission] section as config
// loaded it (listeners, limits, timeouts and the abuse limits), and the
// relay's host name and certificate.
type Config struct {
	config.Submission
	Hostname string
	TLS      *tls.Config
	// RefuseInternalLiterals refuses recipients at address literals of
	// internal networks: delivery is in mx mode without
	// delivery.allow_internal.
	RefuseInternalLiterals bool
}

// Snapshot is what a session sees of the relay's logins and keys, taken
// whole: the relay swaps in a new one on reload, and a session takes one
// at AUTH and one for each transaction (at MAIL), so a reload in the
// middle of a transaction never gives it a mix of old and new.
type Snapshot struct {
	Users *users.DB
	Keys  *ingest.Keyring
}

// SenderChecks are the checks of a sender that depend on DNS
// (authcheck.SenderPolicy); their verdicts become the session's replies.
type SenderChecks interface {
	// CheckSender checks the MAIL FROM address (SPF, RFC 7208).
	CheckSender(ctx context.Context, from string) authcheck.Verdict
	// CheckAlignment checks, once the From: field is read, that its
	// domain aligns with the DKIM domains (d=) and the MAIL FROM domain
	// as DMARC asks (RFC 7489 section 3.1).
	CheckAlignment(ctx context.Context, mailFrom, fromDomain string, dkimDomains []string) authcheck.Verdict
}

// Backend is what the server's sessions use beyond their configuration.
type Backend struct {
	// Snapshot returns the logins and keys in force now.
	Snapshot func() *Snapshot
	// Checks judges senders.
	Checks SenderChecks
	// Ingest signs and queues accepted messages.
	Ingest *ingest.Ingest
}

// Server serves the submission listeners.
type Server struct {
	cfg     Config
	backend Backend
	log     *slog.Logger
	now     func() time.Time

	smtp *smtp.Server

	mu        sync.Mutex
	listeners []net.Listener
	limit     *connLimit
	refusals  *refusalLog // log lines of refused connections, by address

	guard *abuse.AuthGuard   // AUTH failures by address
	cache *users.Cache       // logins that proved their password lately
	rate  *abuse.RateLimiter // messages and recipients by login

	readers *bufpool.Pool[*messageReader, io.Reader] // DATA's readers and their buffers
}

// New makes a Server; Listen then starts it.
func New(cfg Config, b Backend, log *slog.Logger) *Server {
	s := &Server{cfg: cfg, backend: b, log: log, now: time.Now, readers: newDataReaders()}
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = cfg.Hostname
	srv.TLSConfig = cfg.TLS
	srv.AllowInsecureAuth = cfg.AllowInsecureAuth
	srv.MaxMessageBytes = cfg.MaxMessageSize
	srv.MaxRecipients = cfg.MaxRecipients
	srv.ReadTimeout = cfg.CommandTimeout
	srv.WriteTimeout = time.Minute
	srv.EnableSMTPUTF8 = true
	// RFC 8689: offered after STARTTLS only (go-smtp's rule).
	srv.EnableREQUIRETLS = true
	srv.ErrorLog = slogAdapter{log}
	s.smtp = srv
	srv.MaxLineLength = cfg.MaxCommandLength
	s.guard = abuse.NewAuthGuard(abuse.AuthPolicyOf(cfg.Submission), nil)
	s.cache = users.NewCache(cfg.AuthCacheTTL)
	s.rate = abuse.NewRateLimiter(abuse.RatePolicyOf(cfg.Submission), nil)
	s.limit = newConnLimit(cfg.MaxConnections, cfg.MaxConnectionsPerIP)
	s.refusals = newRefusalLog(cfg.MaxRepeatedLogLines)
	return s
}

// Listen opens every configured listener; it fails if any cannot be opened
// (a port taken by another program is an error to fix, not to ignore).
func (s *Server) Listen() error {
	open := func(addr string, implicitTLS bool) error {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		var ll net.Listener = &limitedListener{Listener: l, limit: s.limit, guard: s.guard, preAuth: s.cfg.PreAuthTimeout,
			maxPreAuth: s.cfg.MaxPreAuthCommands, log: s.log, refusals: s.refusals, tlsConfig: s.tlsIf(implicitTLS), hostname: s.cfg.Hostname}
		if implicitTLS {
			ll = tls.NewListener(ll, s.cfg.TLS)
		}
		s.mu.Lock()
		s.listeners = append(s.listeners, ll)
		s.mu.Unlock()
		return nil
	}
	for _, a := range s.cfg.Listen {
		if err := open(a, false); err != nil {
			s.Close()
			return err
		}
	}
	for _, a := range s.cfg.ListenTLS {
		if err := open(a, true); err != nil {
			s.Close()
			return err
		}
	}
	return nil
}

func (s *Server) tlsIf(b bool) *tls.Config {
	if b {
		return s.cfg.TLS
	}
	return nil
}

// Addrs returns the addresses actually listened on, STARTTLS ones first.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var a []net.Addr
	for _, l := range s.listeners {
		a = append(a, l.Addr())
	}
	return a
}

// Serve serves every listener until Shutdown or Close.
func (s *Server) Serve() error {
	s.mu.Lock()
	ls := append([]net.Listener(nil), s.listeners...)
	s.mu.Unlock()
	errc := make(chan error, len(ls))
	for _, l := range ls {
		go func(l net.Listener) { errc <- s.smtp.Serve(l) }(l)
	}
	var first error
	for range ls {
		if err := <-errc; err != nil && !errors.Is(err, smtp.ErrServerClosed) && first == nil {
			first = err
		}
	}
	return first
}

// Shutdown stops accepting connections and waits, until ctx ends, for the
// open sessions to finish; then it closes what is left. A session cut
// short never got its 250, so nothing acknowledged is lost.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.smtp.Shutdown(ctx)
	if err != nil {
		s.smtp.Close()
	}
	return err
}

// Close closes every listener and connection at once.
func (s *Server) Close() error {
	s.mu.Lock()
	for _, l := range s.listeners {
		l.Close()
	}
	s.mu.Unlock()
	return s.smtp.Close()
}

type slogAdapter struct{ log *slog.Logger }

func (a slogAdapter) Printf(format string, v ...any) {
	a.log.Debug("smtp_server", "detail", sprintf(format, v...))
}
func (a slogAdapter) Println(v ...any) { a.log.Debug("smtp_server", "detail", sprint(v...)) }
