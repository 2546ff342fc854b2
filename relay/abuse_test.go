package relay

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"dkimrelay/internal/testkit"
	"dkimrelay/resolver/dnstest"
)

func TestAuthFailureLimits(t *testing.T) {
	srv := dnstest.NewServer(t)
	srv.AddZone(policyZone)
	addr, logs := startRelayWith(t, srv, "off", `max_auth_attempts = 2
auth_max_failures = 3
auth_failure_delay = "10ms"
auth_block = "1h"
trusted_networks = []`)

	// Two failures on one connection: the second closes it with 421.
	s, greet := testkit.ConnectRaw(t, addr, false)
	if !strings.HasPrefix(greet.String(), "220") {
		t.Fatalf("greeting %v", greet)
	}
	s.Cmd("EHLO test")
	if r := s.Cmd(testkit.PlainAuth("", "app", "wrong password one")).String(); !strings.HasPrefix(r, "535 5.7.8") {
		t.Fatalf("first failure: %q", r)
	}
	if r := s.Cmd(testkit.PlainAuth("", "app", "wrong password two")).String(); !strings.HasPrefix(r, "421 4.7.0") {
		t.Fatalf("second failure on the connection: %q", r)
	}
	if r := s.Reply(); !r.Closed() {
		t.Fatalf("connection still open after 421: %v", r)
	}

	// Reconnecting does not reset the count: the third failure from the
	// address blocks it, and a new connection is refused at once.
	s, _ = testkit.ConnectRaw(t, addr, false)
	s.Cmd("EHLO test")
	if r := s.Cmd(testkit.PlainAuth("", "app", "wrong password three")).String(); !strings.HasPrefix(r, "421 4.7.0") {
		t.Fatalf("third failure: %q", r)
	}
	_, greet = testkit.ConnectRaw(t, addr, false)
	if !strings.HasPrefix(greet.String(), "421 4.7.0") {
		t.Fatalf("blocked address greeted with %v", greet)
	}
	if len(logs.Events("auth_blocked")) != 1 {
		t.Errorf("auth_blocked events: %v", logs.Events("auth_blocked"))
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
	a, _ := testkit.ConnectRaw(t, addr, false)
	b, _ := testkit.ConnectRaw(t, addr, false)
	if _, greet := testkit.ConnectRaw(t, addr, false); !strings.HasPrefix(greet.String(), "421 4.7.0") || !strings.Contains(greet.String(), "your address") {
		t.Fatalf("third connection: %v", greet)
	}
	start := time.Now()
	r := a.Reply()
	if r.Code != 421 && !r.Closed() {
		t.Fatalf("idle connection got %v", r)
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Errorf("idle unauthenticated connection kept %v", waited)
	}
	// An authenticated session gets the full command timeout. The other
	// idle connection times out too; the server frees both slots just
	// after the clients see them close, so a new connection may still
	// find them taken for a moment.
	b.Reply()
	var c *smtp.Client
	for deadline := time.Now().Add(5 * time.Second); ; {
		var err error
		if c, err = smtp.Dial(addr); err != nil {
			t.Fatal(err)
		}
		err = c.Auth(sasl.NewPlainClient("", "app", testkit.Password))
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
