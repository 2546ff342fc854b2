package submission

import (
	"errors"

	"github.com/emersion/go-sasl"
)

// loginServer is the server side of the LOGIN mechanism, which go-sasl only
// provides as a client. LOGIN is not standardised (draft-murchison-sasl-login)
// but Mastodon's Net::SMTP offers it as SMTP_AUTH_METHOD=login, so a relay
// for it must speak it. The exchange is two prompts, "Username:" and
// "Password:", each answered with one base64 line; a client may send the
// user name as the initial response.
type loginServer struct {
	auth     func(username, password string) error
	username string
	step     int
}

func newLoginServer(auth func(username, password string) error) sasl.Server {
	return &loginServer{auth: auth}
}

var errLoginState = errors.New("unexpected LOGIN response")

// Next implements sasl.Server.
func (s *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch s.step {
	case 0:
		s.step = 1
		if response == nil {
			return []byte("Username:"), false, nil
		}
		fallthrough
	case 1:
		s.username = string(response)
		s.step = 2
		return []byte("Password:"), false, nil
	case 2:
		s.step = 3
		return nil, true, s.auth(s.username, string(response))
	default:
		return nil, true, errLoginState
	}
}
