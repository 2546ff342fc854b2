package relay

import (
	"errors"
	"io"
	"testing"

	"dkimrelay/internal/testkit"
	"dkimrelay/resolver/dnstest"
)

// QUIT is answered 221 and the session then ends cleanly, inside TLS as
// in plaintext (RFC 5321 section 4.1.1.10): the reply must leave before
// the connection closes, and a TLS session ends with its close_notify, so
// that the client reads the end of the stream and no error. Mastodon's
// mail gem, swaks and smtplib each end every message's session this way.
func TestQuitAnswered(t *testing.T) {
	srv := dnstest.NewServer(t)
	srv.AddZone(policyZone)
	addr, _ := startRelayWith(t, srv, "off", "")
	for _, tc := range []struct {
		name     string
		starttls bool
	}{
		{"plaintext", false},
		{"STARTTLS and AUTH", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testkit.DialRaw(t, addr, false)
			if tc.starttls {
				s.HelloTLS("test")
				s.Login("app", testkit.Password)
			} else {
				s.Hello("test")
			}
			s.Expect("QUIT", 221)
			if rp := s.Reply(); !errors.Is(rp.Err, io.EOF) {
				t.Fatalf("after 221: %v, want the end of the stream", rp)
			}
		})
	}
}
