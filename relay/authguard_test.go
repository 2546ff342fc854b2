package relay

import (
	"net"
	"strings"
	"testing"
	"time"

	"dkimrelay/internal/testkit"
	"dkimrelay/resolver/dnstest"
	"dkimrelay/users"
)

// rawSession is a plaintext SMTP conversation whose replies read as
// strings ("EOF" once the server has closed).
type rawSession struct{ *testkit.Raw }

func (s rawSession) cmd(line string) string {
	r := s.Cmd(line)
	if r.Closed() && len(r.Lines) == 0 {
		return "EOF"
	}
	return r.String()
}

func (s rawSession) reply() string {
	r := s.Reply()
	if r.Closed() && len(r.Lines) == 0 {
		return "EOF"
	}
	return r.String()
}

// dialRaw connects to the plaintext listener addr and returns the session
// and its greeting.
func dialRaw(t *testing.T, addr string) (rawSession, string) {
	t.Helper()
	s, g := testkit.ConnectRaw(t, addr, false)
	return rawSession{s}, g.String()
}

// dialRawFrom is dialRaw from the loopback address src, a separate host.
func dialRawFrom(t *testing.T, addr, src string) (rawSession, string) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := rawSession{testkit.NewRaw(t, c)}
	return s, s.reply()
}

// plain is the AUTH PLAIN command for user and pw.
func plain(user, pw string) string { return testkit.PlainAuth("", user, pw) }

// authRelay is a hardening relay with a second login, "victim", besides
// the harness's "app".
func authRelay(t *testing.T, submission string) *hardRelay {
	t.Helper()
	h := prepareHardRelay(t, dnstest.NewServer(t), hardOptions{submission: submission})
	if err := users.Update(h.Config.UsersFile(), func(db *users.DB) error {
		return db.Add("victim", "the victim's own password", []string{"victim@" + hardDomain})
	}); err != nil {
		t.Fatal(err)
	}
	h.Start()
	return h
}

// TestSuccessDoesNotForgiveFailures: an attacker holding one login
// alternates two wrong guesses at another login with one right login of
// their own. The successes must not wipe the address's record: the tenth
// failure within the window blocks the address, as it does for an address
// without successes.
func TestSuccessDoesNotForgiveFailures(t *testing.T) {
	h := authRelay(t, "auth_max_failures = 10\nauth_failure_delay = \"1ms\"\nmax_auth_attempts = 3\ntrusted_networks = []")
	failures := 0
	for round := 0; round < 8 && failures < 10; round++ {
		s, greet := dialRaw(t, h.Addr())
		if !strings.HasPrefix(greet, "220") {
			t.Fatalf("round %d, after %d failures: greeted %q", round, failures, greet)
		}
		s.cmd("EHLO attacker")
		for range 2 {
			r := s.cmd(plain("victim", "a wrong guess"))
			failures++
			if failures == 10 {
				if !strings.HasPrefix(r, "421 4.7.0") {
					t.Fatalf("the 10th failure, after %d successes of another login, answered %q: not blocked", round, r)
				}
				break
			}
			if !strings.HasPrefix(r, "535 5.7.8") {
				t.Fatalf("failure %d: %q", failures, r)
			}
		}
		if failures < 10 {
			if r := s.cmd(plain("app", testkit.Password)); !strings.HasPrefix(r, "235") {
				t.Fatalf("the attacker's own login: %q", r)
			}
		}
		s.Close()
	}
	if _, greet := dialRaw(t, h.Addr()); !strings.HasPrefix(greet, "421 4.7.0") {
		t.Errorf("after 10 failures interleaved with successes, a new connection is greeted %q; want 421 4.7.0", greet)
	}
}

// TestLocalProcessCannotLockOutApp: a local process guesses passwords from
// 127.0.0.1, where the application also connects from. Loopback is in
// trusted_networks by default, so the address is never blocked outright:
// the application's next connection is greeted, and its correct password
// is answered at once, without the delay that failures earn. The login
// the guesses targeted is blocked from that address (wrong guesses then
// get 421 at once), not from others; its owner's correct password still
// gets through.
func TestLocalProcessCannotLockOutApp(t *testing.T) {
	const step = 100 * time.Millisecond
	h := authRelay(t, "auth_max_failures = 10\nauth_failure_delay = \"100ms\"\nmax_auth_attempts = 3")
	// The application logs in once, as it does at start.
	s, _ := dialRaw(t, h.Addr())
	s.cmd("EHLO app")
	if r := s.cmd(plain("app", testkit.Password)); !strings.HasPrefix(r, "235") {
		t.Fatalf("app: %q", r)
	}
	s.Close()

	// Twelve wrong guesses at "victim" from the same address.
	for i := 0; i < 12; {
		s, greet := dialRaw(t, h.Addr())
		if !strings.HasPrefix(greet, "220") {
			t.Fatalf("after %d failures from loopback: greeted %q; a trusted address must never be blocked outright", i, greet)
		}
		s.cmd("EHLO attacker")
		for range 3 {
			r := s.cmd(plain("victim", "a wrong guess"))
			i++
			if strings.HasPrefix(r, "421") {
				break
			}
		}
		s.Close()
	}

	s, greet := dialRaw(t, h.Addr())
	if !strings.HasPrefix(greet, "220") {
		t.Fatalf("the application's connection after the guesses: %q", greet)
	}
	s.cmd("EHLO app")
	start := time.Now()
	r := s.cmd(plain("app", testkit.Password))
	took := time.Since(start)
	if !strings.HasPrefix(r, "235") {
		t.Fatalf("the application's correct password after another login's failures: %q", r)
	}
	if took >= 5*step {
		t.Errorf("the correct password was answered after %v: the failures' tarpit (up to %v) delays the application", took, 5*step)
	}
	s.Close()

	// The guessed login is blocked from this address: a wrong password
	// gets 421 at once; its right password still gets through.
	s, _ = dialRaw(t, h.Addr())
	s.cmd("EHLO attacker")
	if r := s.cmd(plain("victim", "another guess")); !strings.HasPrefix(r, "421 4.7.0") {
		t.Errorf("a guess at the blocked login: %q, want 421 4.7.0", r)
	}
	s, _ = dialRaw(t, h.Addr())
	s.cmd("EHLO victim")
	if r := s.cmd(plain("victim", "the victim's own password")); !strings.HasPrefix(r, "235") {
		t.Errorf("the blocked login's correct password: %q", r)
	}
	// From another address the login is not blocked.
	s, _ = dialRawFrom(t, h.Addr(), "127.0.0.2")
	s.cmd("EHLO elsewhere")
	if r := s.cmd(plain("victim", "a typo")); !strings.HasPrefix(r, "535 5.7.8") {
		t.Errorf("a failure from another address: %q, want 535 5.7.8", r)
	}
}
