package submission

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/mail"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"dkimrelay/authcheck"
	"dkimrelay/dkim"
	"dkimrelay/events"
	"dkimrelay/relay/abuse"
	"dkimrelay/relay/ingest"
	"dkimrelay/relay/queue"
	"dkimrelay/users"
)

// Replies named by the contract. Enhanced codes follow RFC 3463 and the
// AUTH ones RFC 4954 section 6.
var (
	errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required: log in with AUTH first"}
	errAuthFailed   = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
	errNullSender   = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "A null sender (MAIL FROM:<>) is not accepted for submission"}
)

func policyError(format string, args ...any) *smtp.SMTPError {
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: sprintf(format, args...)}
}

// verdictReply is the reply to a sender check's refusal: 451 4.4.3 when
// the check could not be completed (RFC 3463: X.4.3 is a directory, here
// DNS, server failure), 550 5.7.1 when the receiver would reject.
func verdictReply(v authcheck.Verdict) *smtp.SMTPError {
	if v.Action == authcheck.TempFail {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 3}, Message: v.Reason}
	}
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: v.Reason}
}

func syntaxError(ec smtp.EnhancedCode, format string, args ...any) *smtp.SMTPError {
	return &smtp.SMTPError{Code: 501, EnhancedCode: ec, Message: sprintf(format, args...)}
}

// session is one SMTP connection's state.
type session struct {
	srv    *Server
	conn   *limitedConn // nil only in tests that bypass the listener
	remote string
	helo   string
	ip     netip.Addr
	tls    bool
	user   *users.User
	// snap is the transaction's view of logins and keys, taken at MAIL.
	snap  *Snapshot
	from  string
	rcpts []string
	// requireTLS: MAIL FROM carried REQUIRETLS (RFC 8689 section 4.1).
	requireTLS bool

	authFailures int // on this connection

	// The session limits (sessionlimits.go).
	started  time.Time
	messages int                // accepted on this connection
	errors   int                // refused commands since the last accepted message
	logged   map[string]int     // refusals seen, by code and reason
	repeated []events.Rejection // refusals seen more often than logged
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	ss := &session{srv: s, conn: connOf(c.Conn()), remote: c.Conn().RemoteAddr().String(),
		helo: c.Hostname(), ip: abuse.Prefix(addrOf(c.Conn().RemoteAddr())), tls: isTLS, started: s.now()}
	if ss.conn != nil {
		ss.started = ss.conn.accepted
		ss.conn.top = c.Conn
	}
	return ss, nil
}

func (s *session) log() *slog.Logger { return s.srv.log }

// reject logs and returns the reply refusing a command; e names what was
// refused (the sender or the recipient), if anything.
func (s *session) reject(err *smtp.SMTPError, about ...events.Rejection) error {
	var ev events.Rejection
	if len(about) > 0 {
		ev = about[0]
	}
	ev.Code, ev.Reason, ev.Remote = err.Code, err.Message, s.remote
	if s.user != nil {
		ev.User = s.user.Name
	}
	s.logRejection(ev)
	if s.countError() {
		return s.closeWith(errTooManyErrors)
	}
	return err
}

// AuthMechanisms implements smtp.AuthSession. go-smtp offers them only
// after TLS unless allow_insecure_auth is set.
func (s *session) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

// Auth implements smtp.AuthSession.
func (s *session) Auth(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			// RFC 4616 section 2: the authorization identity asks to act
			// as another user. The relay has no proxy logins, so one that
			// differs from the authentication identity is refused: acting
			// on it would let any login send as any other (the class of
			// CVE-2023-27582).
			if identity != "" && identity != username {
				return s.authResult(username, mech, false, errors.New("authorization identity differs"))
			}
			return s.login(username, password, mech)
		}), nil
	case sasl.Login:
		return newLoginServer(func(username, password string) error {
			return s.login(username, password, mech)
		}), nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *session) login(username, password, mech string) error {
	guard := s.srv.guard
	if blocked, _ := guard.Blocked(s.ip); blocked {
		return s.closeWith(errAuthBlocked)
	}
	u, cached, err := s.srv.cache.Authenticate(s.srv.backend.Snapshot().Users, username, password)
	if err == nil {
		s.user = u
		guard.Success(s.ip, username)
		if s.conn != nil {
			s.conn.authed.Store(true)
		}
	} else if d := guard.Delay(s.ip, username); d > 0 {
		// Tarpit: each recent failure from this address (and, briefly,
		// failures of this login from elsewhere) slows a failed answer,
		// which makes guessing slow; the right password is answered at
		// once, so the login's owner is not slowed by others' failures.
		time.Sleep(d)
	}
	return s.authResult(username, mech, cached, err)
}

// Replies of the AUTH limits (RFC 3463 4.7.0: a security policy status).
var (
	errAuthBlocked     = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many failed logins from your address, try again later"}
	errTooManyAttempts = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many failed logins on this connection, closing"}
)

// closeWith makes err the session's last reply: the connection closes once
// it is written.
func (s *session) closeWith(err *smtp.SMTPError) error {
	if s.conn != nil {
		s.conn.closeAfter.Store(true)
	}
	ev := events.Rejection{Level: slog.LevelWarn, Code: err.Code, Reason: err.Message, Remote: s.remote}
	if s.user != nil {
		ev.User = s.user.Name
	}
	s.logRejection(ev)
	return err
}

// authResult logs an AUTH's outcome (cached: answered from the verified
// login cache) and counts failures.
func (s *session) authResult(username, mech string, cached bool, err error) error {
	// The attempted name is logged, the password never is.
	events.AuthAttempt{User: username, Mechanism: mech, OK: err == nil, Remote: s.remote, Helo: s.helo, Cached: cached}.Log(s.log())
	if err == nil {
		return nil
	}
	s.authFailures++
	if s.srv.guard.Failure(s.ip, username) {
		events.AuthBlock{Remote: s.remote, IP: s.ip.String(), User: username}.Log(s.log())
		return s.closeWith(errAuthBlocked)
	}
	if s.authFailures >= s.srv.cfg.MaxAuthAttempts {
		return s.closeWith(errTooManyAttempts)
	}
	return errAuthFailed
}

// Mail implements smtp.Session.
func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	if s.user == nil {
		return s.reject(errAuthRequired)
	}
	// The transaction's one view of logins and keys, kept until RSET or
	// the end of DATA.
	snap := s.srv.backend.Snapshot()
	if err := s.checkSession(snap); err != nil {
		return s.closeWith(err)
	}
	if from == "" {
		return s.reject(errNullSender)
	}
	if err := checkAddress(from); err != nil {
		return s.reject(err, events.Rejection{From: from})
	}
	if !s.user.MaySend(from) {
		return s.reject(policyError("Sender <%s> is not allowed for login %s", from, s.user.Name), events.Rejection{From: from})
	}
	_, domain, _ := users.SplitAddress(from)
	if !snap.Keys.CanSend(domain) {
		return s.reject(noKeyError(domain), events.Rejection{From: from})
	}
	if checks := s.srv.backend.Checks; checks != nil {
		ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
		v := checks.CheckSender(ctx, from)
		cancel()
		if !v.Passed() {
			return s.reject(verdictReply(v), events.Rejection{From: from})
		}
	}
	s.snap = snap
	s.from = from
	s.requireTLS = opts != nil && opts.RequireTLS
	return nil
}

// checkTimeout bounds each sender check's DNS lookups.
const checkTimeout = 30 * time.Second

func noKeyError(domain string) *smtp.SMTPError {
	return policyError("Domain %s has no active DKIM key: run `dkimrelay keys list` and activate one", strings.ToLower(domain))
}

// Rcpt implements smtp.Session. An authenticated login may send to any
// recipient; that is the relay's purpose. Without a login, Mail has
// already refused, so the relay is never open.
func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	if s.user == nil {
		return s.reject(errAuthRequired)
	}
	if err := checkAddress(to); err != nil {
		return s.reject(err, events.Rejection{Rcpt: to})
	}
	if err := s.srv.internalLiteral(to); err != nil {
		return s.reject(err, events.Rejection{Rcpt: to})
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

// Data implements smtp.Session: check, then sign, spool and fsync through
// ingest, then 250.
func (s *session) Data(r io.Reader) error {
	if s.user == nil {
		return s.reject(errAuthRequired)
	}
	srv := s.srv
	if err := srv.rate.Allow(s.user.Name, len(s.rcpts)); err != nil {
		// 451 makes the application's job queue retry later (RFC 5321
		// section 4.2.5), which is what a rate limit asks for.
		return s.reject(&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: err.Error()})
	}
	mr := srv.readers.Get(r)
	// Back to the pool when Data returns; nothing keeps it, as
	// ReadHeader copies the header out of the buffer.
	defer srv.readers.Put(mr)
	br := mr.buf
	h, err := dkim.ReadHeader(br, srv.cfg.MaxHeaderSize)
	if err != nil {
		return s.reject(headerError(err))
	}
	fromDomain, serr := s.checkFromHeader(h)
	if serr != nil {
		return s.reject(serr)
	}
	keys := s.snap.Keys.Sending(fromDomain)
	if checks := srv.backend.Checks; checks != nil {
		ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
		v := checks.CheckAlignment(ctx, s.from, fromDomain, signingDomains(keys))
		cancel()
		if !v.Passed() {
			return s.reject(verdictReply(v), events.Rejection{From: s.from})
		}
	}
	if len(keys) == 0 {
		return s.reject(noKeyError(fromDomain))
	}
	// RFC 6409 section 8.2 and 8.3: a submission server may add a
	// missing Date and Message-ID; both must exist before signing so the
	// signature covers them.
	h.EnsureDate(srv.now())
	h.EnsureMessageID(fromDomain)

	qid, err := srv.backend.Ingest.Accept(ingest.Message{
		From:   s.from,
		Rcpts:  s.rcpts,
		User:   s.user.Name,
		Class:  string(s.user.TrafficClass()),
		Keys:   keys,
		Header: h,
		Body:   br,
		Remote: s.remote,
		// RFC 8689 section 5: "TLS-Required: No" is ignored when
		// REQUIRETLS was asked for.
		RequireTLS:  s.requireTLS,
		TLSOptional: tlsOptional(h),
	})
	if err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			// The client broke the protocol mid-message (a bare LF, a
			// message over the size limit).
			return s.reject(se)
		}
		return s.tempFailure(err)
	}
	s.messages++
	s.errors = 0
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "OK: queued as " + qid}
}

// signingDomains lists the d= domains of keys, each once.
func signingDomains(keys []dkim.Key) []string {
	var domains []string
	for _, k := range keys {
		if !slices.ContainsFunc(domains, func(d string) bool { return strings.EqualFold(d, k.Domain) }) {
			domains = append(domains, k.Domain)
		}
	}
	return domains
}

// tempFailure answers a local fault (disk, signer) with a 4xx so the client
// keeps the message and retries; the detail, which names the step that
// failed, goes to the log only.
func (s *session) tempFailure(err error) error {
	code, ec, msg := 451, smtp.EnhancedCode{4, 3, 0}, "Local error, try again later"
	if errors.Is(err, queue.ErrNoSpace) {
		code, ec, msg = 452, smtp.EnhancedCode{4, 3, 1}, "Insufficient system storage, try again later"
	}
	events.Rejection{Level: slog.LevelError, Code: code, Reason: err.Error(), Remote: s.remote}.Log(s.log())
	return &smtp.SMTPError{Code: code, EnhancedCode: ec, Message: msg}
}

func headerError(err error) *smtp.SMTPError {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se
	}
	if errors.Is(err, dkim.ErrHeaderTooLarge) {
		return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Message header too large"}
	}
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Malformed message header: " + err.Error()}
}

// checkFromHeader enforces RFC 5322 section 3.6's one From field and the
// login's sender list, and returns the domain to sign for. A From with
// several mailboxes would need a Sender field and leaves DMARC undefined
// (RFC 7489 section 6.6.1), so it is refused.
func (s *session) checkFromHeader(h *dkim.Header) (string, *smtp.SMTPError) {
	froms := h.Values("From")
	switch len(froms) {
	case 0:
		return "", policyError("Message has no From header field")
	case 1:
	default:
		return "", policyError("Message has %d From header fields; exactly one is allowed", len(froms))
	}
	list, err := addressParser.ParseList(froms[0])
	if err != nil {
		return "", policyError("From header field %q cannot be parsed: %v", froms[0], err)
	}
	if len(list) != 1 {
		return "", policyError("From header field names %d addresses; exactly one is allowed", len(list))
	}
	addr := list[0].Address
	if !s.user.MaySend(addr) {
		return "", policyError("From address <%s> is not allowed for login %s", addr, s.user.Name)
	}
	_, domain, _ := users.SplitAddress(addr)
	return strings.ToLower(domain), nil
}

// addressParser decodes RFC 2047 display names in any charset without
// converting them: only the address matters here.
var addressParser = &mail.AddressParser{WordDecoder: &mime.WordDecoder{
	CharsetReader: func(charset string, input io.Reader) (io.Reader, error) { return input, nil },
}}

// Reset implements smtp.Session.
func (s *session) Reset() {
	s.snap = nil
	s.from = ""
	s.rcpts = nil
	s.requireTLS = false
}

// Logout implements smtp.Session.
func (s *session) Logout() error {
	s.flushRepeated()
	return nil
}

// tlsOptional reports whether the header says "TLS-Required: No" (RFC 8689
// section 5): the sender prefers delivery over the receivers' TLS
// policies.
func tlsOptional(h *dkim.Header) bool {
	for _, v := range h.Values("TLS-Required") {
		if strings.EqualFold(strings.TrimSpace(v), "No") {
			return true
		}
	}
	return false
}
