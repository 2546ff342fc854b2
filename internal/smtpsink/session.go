package smtpsink

import (
	"io"
	"net"
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// session is one SMTP session (go-smtp starts another after STARTTLS).
type session struct {
	s       *Sink
	c       *smtp.Conn
	user    string
	counted bool // the TLS state was counted at the first MAIL
	cur     Message
}

var _ smtp.AuthSession = (*session)(nil)

func (s *Sink) newSession(c *smtp.Conn) (smtp.Session, error) {
	local, _, _ := net.SplitHostPort(c.Conn().LocalAddr().String())
	remote, _, _ := net.SplitHostPort(c.Conn().RemoteAddr().String())
	return &session{s: s, c: c, cur: Message{Local: local, Remote: remote}}, nil
}

func (ss *session) AuthMechanisms() []string { return ss.s.cfg.AuthMechs }

func (ss *session) Auth(mech string) (sasl.Server, error) {
	ss.s.mu.Lock()
	ss.s.stats.AuthAttempts++
	ss.s.mu.Unlock()
	check := func(identity, user, pass string) error {
		if want, ok := ss.s.cfg.Users[user]; !ok || want != pass || (identity != "" && identity != user) {
			ss.s.mu.Lock()
			ss.s.stats.AuthFailures++
			ss.s.mu.Unlock()
			return smtp.ErrAuthFailed
		}
		ss.user = user
		ss.s.mu.Lock()
		ss.s.stats.Logins++
		ss.s.mu.Unlock()
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(check), nil
	case sasl.Login:
		return &loginServer{check: func(user, pass string) error { return check("", user, pass) }}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	_, isTLS := ss.c.TLSConnectionState()
	ss.s.mu.Lock()
	ss.s.stats.Transactions++
	if !ss.counted && isTLS {
		ss.s.stats.TLSSessions++
	}
	ss.counted = true
	ss.s.mu.Unlock()
	if ss.s.cfg.RequireAuth && ss.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	if err := ss.s.answer(Mail, from); err != nil {
		return err
	}
	ss.cur = Message{Local: ss.cur.Local, Remote: ss.cur.Remote, Helo: ss.c.Hostname(), From: from, TLS: isTLS, User: ss.user}
	if opts != nil {
		ss.cur.Opts = *opts
	}
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	ss.s.stats.Rcpts++
	ss.s.attempts[strings.ToLower(to)]++
	ss.s.mu.Unlock()
	if err := ss.s.answer(Rcpt, to); err != nil {
		return err
	}
	ss.cur.To = append(ss.cur.To, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	s := ss.s
	s.mu.Lock()
	s.inData++
	s.stats.MaxInData = max(s.stats.MaxInData, s.inData)
	hook := s.dataHook
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inData--
		s.mu.Unlock()
	}()
	if hook != nil {
		if err := hook(ss.c, r); err != nil {
			return err
		}
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := s.answer(Data, strings.Join(ss.cur.To, ",")); err != nil {
		return err
	}
	m := ss.cur
	m.To = append([]string(nil), ss.cur.To...)
	m.Data = data
	if s.cfg.Arrived != nil {
		s.cfg.Arrived(m)
	}
	s.mu.Lock()
	s.stats.Messages++
	if !s.cfg.Discard {
		s.msgs = append(s.msgs, m)
	}
	s.mu.Unlock()
	return nil
}

func (ss *session) Reset() {
	ss.s.mu.Lock()
	ss.s.stats.Resets++
	ss.s.mu.Unlock()
	ss.cur = Message{Local: ss.cur.Local, Remote: ss.cur.Remote}
}

func (ss *session) Logout() error { return nil }

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
