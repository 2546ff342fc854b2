package relay

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"dkimrelay/resolver/dnstest"
)

// rawSession is a plaintext SMTP conversation that reports replies as
// they are, and tells when the server closed the connection.
type rawSession struct {
	t *testing.T
	c net.Conn
	r *textproto.Reader
}

func dialRaw(t *testing.T, addr string) (*rawSession, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	s := &rawSession{t: t, c: c, r: textproto.NewReader(bufio.NewReader(c))}
	return s, s.reply()
}

// reply reads one (multi-line) reply; "EOF" when the server closed.
func (s *rawSession) reply() string {
	var lines []string
	for {
		l, err := s.r.ReadLine()
		if err != nil {
			return "EOF"
		}
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return strings.Join(lines, "\n")
		}
	}
}

func (s *rawSession) cmd(format string, args ...any) string {
	fmt.Fprintf(s.c, format+"\r\n", args...)
	return s.reply()
}

func plain(user, pw string) string {
	return "AUTH PLAIN " + b64("\x00"+user+"\x00"+pw)
}

func TestAuthFailureLimits(t *testing.T) {
	srv := dnstest.NewServer(t)
	srv.AddZone(policyZone)
	addr, logs := startRelayWith(t, srv, "off", `max_auth_attempts = 2
auth_max_failures = 3
auth_failure_delay = "10ms"
auth_block = "1h"`)

	// Two failures on one connection: the second closes it with 421.
	s, greet := dialRaw(t, addr)
	if !strings.HasPrefix(greet, "220") {
		t.Fatalf("greeting %q", greet)
	}
	s.cmd("EHLO test")
	if r := s.cmd(plain("app", "wrong password one")); !strings.HasPrefix(r, "535 5.7.8") {
		t.Fatalf("first failure: %q", r)
	}
	if r := s.cmd(plain("app", "wrong password two")); !strings.HasPrefix(r, "421 4.7.0") {
		t.Fatalf("second failure on the connection: %q", r)
	}
	if r := s.reply(); r != "EOF" {
		t.Fatalf("connection still open after 421: %q", r)
	}

	// Reconnecting does not reset the count: the third failure from the
	// address blocks it, and a new connection is refused at once.
	s, _ = dialRaw(t, addr)
	s.cmd("EHLO test")
	if r := s.cmd(plain("app", "wrong password three")); !strings.HasPrefix(r, "421 4.7.0") {
		t.Fatalf("third failure: %q", r)
	}
	_, greet = dialRaw(t, addr)
	if !strings.HasPrefix(greet, "421 4.7.0") {
		t.Fatalf("blocked address greeted with %q", greet)
	}
	if len(logs.events("auth_blocked")) != 1 {
		t.Errorf("auth_blocked events: %v", logs.events("auth_blocked"))
	}
}

func TestRateAndConnectionLimits(t *testing.T) {
	srv := dnstest.NewServer(t)
	srv.AddZone(policyZone)
	addr, _ := startRelayWith(t, srv, "off", `rate_messages_per_minute = 2
max_connections_per_ip = 2
pre_auth_timeout = "1s"`)

	for i := 0; i < 2; i++ {
		if err := submit(t, addr, "app@example.org", "app@example.org"); err != nil {
			t.Fatalf("message %d refused: %v", i, err)
		}
	}
	err := submit(t, addr, "app@example.org", "app@example.org")
	if err == nil || err.Code != 451 || err.EnhancedCode != (smtp.EnhancedCode{4, 7, 1}) || !strings.Contains(err.Message, "rate_messages_per_minute") {
		t.Fatalf("third message in a minute: %v", err)
	}

	// Two idle connections fill the per-address limit; a third is
	// refused; an unauthenticated idle one is closed after
	// pre_auth_timeout, freeing its slot.
	a, _ := dialRaw(t, addr)
	b, _ := dialRaw(t, addr)
	if _, greet := dialRaw(t, addr); !strings.HasPrefix(greet, "421 4.7.0") || !strings.Contains(greet, "your address") {
		t.Fatalf("third connection: %q", greet)
	}
	start := time.Now()
	r := a.reply()
	if !strings.HasPrefix(r, "421") && r != "EOF" {
		t.Fatalf("idle connection got %q", r)
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Errorf("idle unauthenticated connection kept %v", waited)
	}
	// An authenticated session gets the full command timeout. The other
	// idle connection times out too; the server frees both slots just
	// after the clients see them close, so a new connection may still
	// find them taken for a moment.
	b.reply()
	var c *smtp.Client
	for deadline := time.Now().Add(5 * time.Second); ; {
		var err error
		if c, err = smtp.Dial(addr); err != nil {
			t.Fatal(err)
		}
		err = c.Auth(sasl.NewPlainClient("", "app", testPassword))
		if err == nil {
			break
		}
		c.Close()
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code != 421 || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer c.Close()
	time.Sleep(1500 * time.Millisecond)
	if err := c.Noop(); err != nil {
		var se *smtp.SMTPError
		errors.As(err, &se)
		t.Errorf("authenticated session timed out like an anonymous one: %v", err)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
