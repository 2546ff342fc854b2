package relay

import (
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"dkimrelay/users"
)

// transact runs MAIL, RCPT and DATA on an authenticated raw session and
// returns the first reply that is not a success, or the final one.
func transact(s rawSession, from string) string {
	if r := s.cmd("MAIL FROM:<" + from + ">"); !strings.HasPrefix(r, "250") {
		return r
	}
	if r := s.cmd("RCPT TO:<someone@example.net>"); !strings.HasPrefix(r, "250") {
		return r
	}
	if r := s.cmd("DATA"); !strings.HasPrefix(r, "354") {
		return r
	}
	return s.cmd("From: <" + from + ">\r\nTo: <someone@example.net>\r\nSubject: session\r\n\r\nHello.\r\n.")
}

// victimSession opens a session logged in as victim.
func victimSession(t *testing.T, h *hardRelay) rawSession {
	t.Helper()
	s, greet := dialRaw(t, h.Addr())
	if !strings.HasPrefix(greet, "220") {
		t.Fatalf("greeting %q", greet)
	}
	s.cmd("EHLO app")
	if r := s.cmd(plain("victim", "the victim's own password")); !strings.HasPrefix(r, "235") {
		t.Fatalf("AUTH: %q", r)
	}
	return s
}

// TestOpenSessionSeesLoginNow: a session authenticated before its login
// was removed, re-keyed or narrowed keeps no rights the login has lost.
// After the change and a reload, its next transaction gets 421 and the
// connection closes; logged in again, the client is held to the login as
// it is. A list that only grew lets the session go on.
func TestOpenSessionSeesLoginNow(t *testing.T) {
	h := authRelay(t, "")
	update := func(fn func(db *users.DB) error) {
		t.Helper()
		if err := users.Update(h.Config.UsersFile(), fn); err != nil {
			t.Fatal(err)
		}
		if err := h.Daemon.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		change func(db *users.DB) error
		want   string
	}{
		{"removed", func(db *users.DB) error { return db.Remove("victim") }, "421 4.7.0"},
		{"password changed", func(db *users.DB) error { return db.SetPassword("victim", "a new password for victim") }, "421 4.7.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			update(func(db *users.DB) error {
				db.Remove("victim")
				return db.Add("victim", "the victim's own password", []string{"victim@" + hardDomain})
			})
			s := victimSession(t, h)
			if r := transact(s, "victim@"+hardDomain); !strings.HasPrefix(r, "250") {
				t.Fatalf("before the change: %q", r)
			}
			update(tc.change)
			if r := s.cmd("NOOP"); !strings.HasPrefix(r, "250") {
				t.Fatalf("NOOP: %q", r)
			}
			if r := transact(s, "victim@"+hardDomain); !strings.HasPrefix(r, tc.want) {
				t.Fatalf("a transaction after the login was %s: %q, want %s", tc.name, r, tc.want)
			}
			if r := s.reply(); r != "EOF" {
				t.Errorf("the connection is still open after the 421: %q", r)
			}
		})
	}

	// A grown list: the session goes on.
	update(func(db *users.DB) error {
		db.Remove("victim")
		return db.Add("victim", "the victim's own password", []string{"victim@" + hardDomain})
	})
	s := victimSession(t, h)
	update(func(db *users.DB) error {
		u, _ := db.Get("victim")
		u.Allow = []string{"@" + hardDomain}
		return nil
	})
	if r := transact(s, "other@"+hardDomain); !strings.HasPrefix(r, "250") {
		t.Fatalf("a sender added to the list, on the open session: %q", r)
	}

	// A narrowed list ends the open session at its next transaction.
	update(func(db *users.DB) error {
		u, _ := db.Get("victim")
		u.Allow = []string{"victim@" + hardDomain}
		return nil
	})
	if r := transact(s, "victim@"+hardDomain); !strings.HasPrefix(r, "421 4.7.0") || !strings.Contains(r, "narrowed") {
		t.Errorf("a transaction after the senders were narrowed: %q, want 421 4.7.0", r)
	}
	if r := s.reply(); r != "EOF" {
		t.Errorf("the connection is still open after the 421: %q", r)
	}
	s = victimSession(t, h)
	if r := transact(s, "other@"+hardDomain); !strings.HasPrefix(r, "550 5.7.1") {
		t.Errorf("a sender taken off the list, logged in again: %q, want 550 5.7.1", r)
	}
	if r := transact(s, "victim@"+hardDomain); !strings.HasPrefix(r, "250") {
		t.Errorf("the sender still allowed: %q", r)
	}
}

// TestSessionLifetimeAndMessages: an authenticated session is closed with
// 421 at its next MAIL once it has sent max_messages_per_session messages,
// or once it is older than max_session_lifetime.
func TestSessionLifetimeAndMessages(t *testing.T) {
	h := authRelay(t, "max_messages_per_session = 2\nmax_session_lifetime = \"2s\"")
	s := victimSession(t, h)
	for i := range 2 {
		if r := transact(s, "victim@"+hardDomain); !strings.HasPrefix(r, "250") {
			t.Fatalf("message %d: %q", i+1, r)
		}
	}
	if r := s.cmd("MAIL FROM:<victim@" + hardDomain + ">"); !strings.HasPrefix(r, "421 4.7.0") || !strings.Contains(r, "max_messages_per_session") {
		t.Errorf("a third message on the session: %q", r)
	}
	if r := s.reply(); r != "EOF" {
		t.Errorf("still open: %q", r)
	}

	s = victimSession(t, h)
	if r := transact(s, "victim@"+hardDomain); !strings.HasPrefix(r, "250") {
		t.Fatalf("first message: %q", r)
	}
	time.Sleep(2100 * time.Millisecond)
	if r := s.cmd("NOOP"); !strings.HasPrefix(r, "250") {
		t.Fatalf("NOOP: %q", r)
	}
	if r := s.cmd("MAIL FROM:<victim@" + hardDomain + ">"); !strings.HasPrefix(r, "421 4.7.0") || !strings.Contains(r, "max_session_lifetime") {
		t.Errorf("MAIL after max_session_lifetime: %q", r)
	}
}

// TestPreAuthDeadlineFixed: before AUTH, the deadline is pre_auth_timeout
// from accept; commands do not move it, so a client sending NOOP now and
// then is closed all the same. And a client may send at most
// max_pre_auth_commands lines before AUTH.
func TestPreAuthDeadlineFixed(t *testing.T) {
	h := authRelay(t, "pre_auth_timeout = \"1s\"\nmax_pre_auth_commands = 10")
	s, _ := dialRaw(t, h.Addr())
	start := time.Now()
	s.cmd("EHLO idler")
	closed := false
	for time.Since(start) < 4*time.Second {
		time.Sleep(200 * time.Millisecond)
		if r := s.cmd("NOOP"); !strings.HasPrefix(r, "250") {
			if !strings.HasPrefix(r, "421") {
				t.Errorf("NOOP after %v: %q", time.Since(start), r)
			}
			closed = true
			break
		}
	}
	if !closed {
		t.Fatalf("an unauthenticated client sending NOOP every 200ms is still served after %v with pre_auth_timeout = 1s", time.Since(start))
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("closed after %v, want about pre_auth_timeout (1s)", took)
	}

	// Pipelined commands: the eleventh line gets 421 and the connection
	// closes.
	s, _ = dialRaw(t, h.Addr())
	s.Send("EHLO flood\r\n" + strings.Repeat("NOOP\r\n", 30))
	var replies []string
	for {
		r := s.reply()
		if r == "EOF" {
			break
		}
		replies = append(replies, r)
	}
	last := replies[len(replies)-1]
	if len(replies) != 11 || !strings.HasPrefix(last, "421 4.7.0") || !strings.Contains(last, "before AUTH") {
		t.Errorf("%d replies to EHLO and 30 NOOPs, the last %q; want 10 then 421 4.7.0", len(replies), last)
	}

	// A client that logs in is not held to either limit.
	s = victimSession(t, h)
	time.Sleep(1100 * time.Millisecond)
	for range 12 {
		if r := s.cmd("NOOP"); !strings.HasPrefix(r, "250") {
			t.Fatalf("NOOP after AUTH: %q", r)
		}
	}
}

// TestErrorFloodClosed: 20,000 pipelined MAIL commands before AUTH are
// answered a few times, then the connection closes; the log gets a few
// lines, not 20,000. After AUTH too, the max_errors-th refused command
// closes the connection (Postfix's smtpd_hard_error_limit), and a
// refusal repeated on one connection is logged max_repeated_log_lines
// times, then once more with the count of the rest.
func TestErrorFloodClosed(t *testing.T) {
	h := authRelay(t, "max_errors = 20\nmax_repeated_log_lines = 5\nmax_pre_auth_commands = 100000")
	s, _ := dialRaw(t, h.Addr())
	s.Send("EHLO flood\r\n" + strings.Repeat("MAIL FROM:<app@example.org>\r\n", 20000))
	// The client may not read every reply: the relay closes with most
	// of the flood unread, and the kernel then resets the connection.
	replies := 0
	for s.reply() != "EOF" {
		replies++
	}
	if replies > 21 {
		t.Errorf("20,000 pipelined MAIL before AUTH: %d replies; want at most 21, then the connection closed", replies)
	}
	waitLogged := func(reason string) []map[string]any {
		var evs []map[string]any
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			evs = evs[:0]
			for _, ev := range h.Logs.Events("rejected") {
				if strings.Contains(ev["reason"].(string), reason) {
					evs = append(evs, ev)
				}
			}
			if len(evs) > 0 && evs[len(evs)-1]["repeated"] != nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		return evs
	}
	evs := waitLogged("Authentication required")
	if len(evs) != 6 || evs[5]["repeated"] != float64(15) {
		t.Errorf("the refused MAILs were logged %d times (%v); want 5, then one line with repeated=15", len(evs), evs)
	}
	if n := len(h.Logs.Events("rejected")); n > 10 {
		t.Errorf("the flood logged %d rejected lines", n)
	}
	var closing []map[string]any
	for _, ev := range h.Logs.Events("rejected") {
		if strings.Contains(ev["reason"].(string), "Too many errors") {
			closing = append(closing, ev)
		}
	}
	if len(closing) != 1 || closing[0]["code"] != float64(421) {
		t.Errorf("the closing 421 is logged as %v", closing)
	}

	// After AUTH: a sender not allowed, twenty times.
	s = victimSession(t, h)
	for i := 1; i <= 20; i++ {
		r := s.cmd("MAIL FROM:<other@example.org>")
		want := "550 5.7.1"
		if i == 20 {
			want = "421 4.7.0"
		}
		if !strings.HasPrefix(r, want) {
			t.Fatalf("refused MAIL %d: %q, want %s", i, r, want)
		}
	}
	if r := s.reply(); r != "EOF" {
		t.Errorf("still open after max_errors: %q", r)
	}
}

// TestRefusedConnectionsClosedAtOnce: connections refused by the
// connection limits (or a block) are closed in the accepting goroutine: a
// plaintext client gets its 421 at once, an implicit-TLS one is closed
// without a TLS handshake, and a hundred of them leave no goroutine
// behind waiting on the client.
func TestRefusedConnectionsClosedAtOnce(t *testing.T) {
	h := authRelay(t, "max_connections_per_ip = 1")
	hold, _ := dialRaw(t, h.Addr())
	defer hold.Close()

	before := runtime.NumGoroutine()
	var conns []net.Conn
	for range 100 {
		c, err := net.DialTimeout("tcp", h.TLSAddr(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := c.Read(make([]byte, 1))
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("refused implicit-TLS connection %d still open after 2s: the relay waits for a TLS handshake", i)
		}
		if n > 0 {
			t.Errorf("refused implicit-TLS connection %d got data before any handshake", i)
		}
	}
	if after := runtime.NumGoroutine(); after > before+20 {
		t.Errorf("goroutines went from %d to %d for 100 refused connections", before, after)
	}
	s, greet := dialRaw(t, h.Addr())
	defer s.Close()
	if !strings.HasPrefix(greet, "421 4.7.0") || !strings.Contains(greet, "your address") {
		t.Errorf("a refused plaintext connection is greeted %q", greet)
	}
	if r := s.reply(); r != "EOF" {
		t.Errorf("the refused plaintext connection is still open: %q", r)
	}
	// 101 refusals in a minute, max_repeated_log_lines (5) log lines.
	refused := 0
	for _, ev := range h.Logs.Events("rejected") {
		if strings.Contains(ev["reason"].(string), "too many connections from your address") {
			refused++
		}
	}
	if refused != 5 {
		t.Errorf("101 refused connections from one address logged %d lines, want max_repeated_log_lines = 5", refused)
	}
}
