package submission

import (
	"log/slog"
	"strconv"
	"strings"

	"github.com/emersion/go-smtp"

	"dkimrelay/events"
	"dkimrelay/users"
)

// Replies of the session limits (RFC 3463 4.7.0: a security policy
// status). Each closes the connection; the application reconnects.
var (
	errTooManyErrors   = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many errors on this connection, closing"}
	errSessionTooLong  = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Session open longer than max_session_lifetime, closing: reconnect to send more"}
	errTooManyMessages = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Session sent max_messages_per_session messages, closing: reconnect to send more"}
)

func loginGone(name string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: sprintf("Login %s no longer exists, closing", name)}
}

func sendersNarrowed(name string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: sprintf("The senders login %s may use were narrowed, closing: log in again", name)}
}

func loginChanged(name string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: sprintf("The password of login %s changed, closing: log in again", name)}
}

// checkSession runs at the start of each transaction, with the
// transaction's view of the logins: the session's lifetime and message
// count, then the login as it is now. A login removed since AUTH, or whose
// password changed or whose allowed senders were narrowed, ends the
// session with 421 (the application logs in again, and is then held to
// the login as it is); a login whose list only grew goes on with it.
func (s *session) checkSession(snap *Snapshot) *smtp.SMTPError {
	if s.srv.now().Sub(s.started) >= s.srv.cfg.MaxSessionLifetime {
		return errSessionTooLong
	}
	if s.messages >= s.srv.cfg.MaxMessagesPerSession {
		return errTooManyMessages
	}
	cur, ok := snap.Users.Get(s.user.Name)
	if !ok {
		return loginGone(s.user.Name)
	}
	if cur.Hash != s.user.Hash {
		return loginChanged(s.user.Name)
	}
	if !covers(cur.Allow, s.user.Allow) {
		return sendersNarrowed(s.user.Name)
	}
	s.user = cur
	return nil
}

// countError counts a refused command; the max_errors-th ends the session,
// as Postfix's smtpd_hard_error_limit does. An accepted message starts the
// count again.
func (s *session) countError() bool {
	s.errors++
	return s.errors >= s.srv.cfg.MaxErrors
}

// logRejection logs a refusal, but no more than max_repeated_log_lines
// times the same one (code and reason) per connection: a client repeating
// a refused command thousands of times must not fill the disk with the
// same line. The rest are counted and logged once, when the session ends.
func (s *session) logRejection(ev events.Rejection) {
	key := strconv.Itoa(ev.Code) + " " + ev.Reason
	if s.logged == nil {
		s.logged = map[string]int{}
	}
	s.logged[key]++
	if n := s.logged[key]; n > s.srv.cfg.MaxRepeatedLogLines {
		if n == s.srv.cfg.MaxRepeatedLogLines+1 {
			s.repeated = append(s.repeated, ev)
		}
		return
	}
	ev.Log(s.log())
}

// flushRepeated logs, for each refusal logged max_repeated_log_lines
// times, how many more times it happened.
func (s *session) flushRepeated() {
	for _, ev := range s.repeated {
		key := strconv.Itoa(ev.Code) + " " + ev.Reason
		ev.Repeated = s.logged[key] - s.srv.cfg.MaxRepeatedLogLines
		if ev.Level < slog.LevelWarn {
			ev.Level = slog.LevelWarn
		}
		ev.Log(s.log())
	}
	s.repeated = nil
}

// covers reports whether every sender of old is still allowed by now: the
// same entry, or for addr@domain, @domain.
func covers(now, old []string) bool {
	allowed := func(e string) bool {
		for _, n := range now {
			if users.EqualFoldASCII(n, e) {
				return true
			}
		}
		return false
	}
	for _, e := range old {
		_, domain, _ := strings.Cut(e, "@")
		if !allowed(e) && !allowed("@"+domain) {
			return false
		}
	}
	return true
}
