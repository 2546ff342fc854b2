package dovecottest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"
	"time"

	"github.com/emersion/go-imap/client"
)

// Login opens an IMAP session on the implicit-TLS listener, trusting the
// server's certificate through CAFile, and logs in; the session is
// logged out when the test ends.
func (s *Server) Login(t testing.TB, login, password string) *client.Client {
	t.Helper()
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c, err := client.DialTLS(s.TLSAddr, &tls.Config{ServerName: "localhost", RootCAs: pool})
	if err != nil {
		t.Fatalf("dovecottest: connecting to %s: %v", s.TLSAddr, err)
	}
	if err := c.Login(login, password); err != nil {
		t.Fatalf("dovecottest: logging in as %s: %v", login, err)
	}
	t.Cleanup(func() { c.Logout() })
	return c
}

// Deliver puts msgs in the INBOX of login, as a mail server's delivery
// would.
func (s *Server) Deliver(t testing.TB, login, password string, msgs ...[]byte) {
	t.Helper()
	c := s.Login(t, login, password)
	for _, m := range msgs {
		if err := c.Append("INBOX", nil, time.Now(), bytes.NewReader(m)); err != nil {
			t.Fatalf("dovecottest: APPEND to the INBOX of %s: %v", login, err)
		}
	}
	c.Logout()
}
