package abuse

import (
	"dkimrelay/config"
	"net/netip"
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestAuthGuardBlocksAfterFailures(t *testing.T) {
	c := &clock{time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)}
	g := NewAuthGuard(AuthPolicyOf(config.Defaults().Submission), c.now)
	ip := netip.MustParseAddr("203.0.113.5")
	for i := 1; i < 10; i++ {
		if g.Failure(ip, "mastodon") {
			t.Fatalf("blocked after %d failures", i)
		}
		c.advance(time.Second)
	}
	if d := g.Delay(ip, "mastodon"); d != 5*time.Second {
		t.Errorf("delay after 9 failures = %v, want the 5s cap", d)
	}
	if !g.Failure(ip, "mastodon") {
		t.Fatal("not blocked after 10 failures")
	}
	if b, _ := g.Blocked(ip); !b {
		t.Fatal("Blocked = false")
	}
	// Another address is not blocked; its delay for the attacked login
	// is capped at LoginDelay.
	other := netip.MustParseAddr("198.51.100.7")
	if b, _ := g.Blocked(other); b {
		t.Error("an innocent address is blocked")
	}
	if d := g.Delay(other, "mastodon"); d != time.Second {
		t.Errorf("innocent delay = %v, want 1s", d)
	}
	// Success from the blocked address does not lift the block.
	g.Success(ip, "mastodon")
	if b, _ := g.Blocked(ip); !b {
		t.Error("success lifted the block")
	}
	c.advance(15*time.Minute + time.Second)
	if b, _ := g.Blocked(ip); b {
		t.Error("still blocked after the block period")
	}
}

func TestAuthGuardWindowAndIPv6(t *testing.T) {
	c := &clock{time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)}
	g := NewAuthGuard(AuthPolicyOf(config.Defaults().Submission), c.now)
	// Failures spread beyond the window never block.
	ip := netip.MustParseAddr("203.0.113.9")
	for i := 0; i < 30; i++ {
		if g.Failure(ip, "") {
			t.Fatalf("blocked at failure %d spread over an hour", i)
		}
		c.advance(2 * time.Minute)
	}
	// An IPv6 client rotating addresses within its /64 is one client.
	for i := 0; i < 10; i++ {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, byte(i)})
		g.Failure(a, "x")
	}
	if b, _ := g.Blocked(netip.MustParseAddr("2001:db8:0:1::ffff")); !b {
		t.Error("rotating within a /64 escaped the block")
	}
	if b, _ := g.Blocked(netip.MustParseAddr("2001:db8:0:2::1")); b {
		t.Error("a neighbouring /64 is blocked")
	}
	// A success forgives the failures of the login that succeeded, from
	// that address, and nothing else: another login's failures from the
	// address still slow failed answers.
	ip2 := netip.MustParseAddr("192.0.2.1")
	g.Failure(ip2, "a")
	g.Failure(ip2, "b")
	g.Success(ip2, "a")
	if d := g.Delay(ip2, "b"); d != 2*time.Second {
		t.Errorf("delay after another login's success = %v, want 2s", d)
	}
}

func TestAuthGuardSuccessForgivesNothingElse(t *testing.T) {
	c := &clock{time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)}
	g := NewAuthGuard(AuthPolicyOf(config.Defaults().Submission), c.now)
	ip := netip.MustParseAddr("203.0.113.5")
	blocked := false
	for i := 1; i <= 10 && !blocked; i++ {
		blocked = g.Failure(ip, "victim")
		if i%2 == 0 {
			g.Success(ip, "own")
		}
		c.advance(time.Second)
	}
	if !blocked {
		t.Fatal("successes of another login forgave the failures")
	}
	// Failures age out: a failure every two minutes never adds up to ten
	// within the ten-minute window.
	g = NewAuthGuard(AuthPolicyOf(config.Defaults().Submission), c.now)
	for i := 0; i < 40; i++ {
		if g.Failure(ip, "victim") {
			t.Fatalf("blocked at failure %d, spread over 80 minutes", i)
		}
		c.advance(2 * time.Minute)
	}
}

func TestAuthGuardTrustedNetworks(t *testing.T) {
	c := &clock{time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)}
	g := NewAuthGuard(AuthPolicyOf(config.Defaults().Submission), c.now)
	lo := netip.MustParseAddr("127.0.0.1")
	// Failures spread over many logins never block a trusted address.
	for i := 0; i < 30; i++ {
		if g.Failure(lo, string(rune('a'+i%26))+"login") {
			t.Fatalf("loopback blocked at failure %d over many logins", i)
		}
	}
	if b, _ := g.Blocked(lo); b {
		t.Error("loopback blocked outright")
	}
	if b, _ := g.Blocked(netip.MustParseAddr("::1")); b {
		t.Error("::1 blocked outright")
	}
	// Ten failures at one login block that login from there, and only
	// from there.
	blocked := false
	for range 10 {
		blocked = g.Failure(lo, "victim")
	}
	if !blocked {
		t.Error("ten failures at one login from loopback did not block the login there")
	}
	if g.Failure(netip.MustParseAddr("127.0.0.2"), "victim") {
		t.Error("the login is blocked from another address")
	}
	// An address outside the trusted networks is blocked outright.
	out := netip.MustParseAddr("192.0.2.7")
	for i := range 10 {
		blocked = g.Failure(out, string(rune('a'+i))+"login")
	}
	if b, _ := g.Blocked(out); !b || !blocked {
		t.Error("an untrusted address was not blocked after 10 failures")
	}
}

func TestRateLimiter(t *testing.T) {
	c := &clock{time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)}
	off := NewRateLimiter(RatePolicy{}, c.now)
	for i := 0; i < 10000; i++ {
		if err := off.Allow("m", 100); err != nil {
			t.Fatal("the default must not limit:", err)
		}
	}
	l := NewRateLimiter(RatePolicy{MessagesPerMinute: 3, RecipientsPerHour: 10}, c.now)
	for i := 0; i < 3; i++ {
		if err := l.Allow("m", 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Allow("m", 1); err == nil || !strings.Contains(err.Error(), "rate_messages_per_minute") {
		t.Errorf("4th message in a minute: %v", err)
	}
	if err := l.Allow("other", 1); err != nil {
		t.Errorf("another login is limited: %v", err)
	}
	c.advance(61 * time.Second)
	if err := l.Allow("m", 1); err != nil {
		t.Errorf("after a minute: %v", err)
	}
	if err := l.Allow("m", 7); err == nil || !strings.Contains(err.Error(), "recipients") {
		t.Errorf("11 recipients in an hour: %v", err)
	}
	c.advance(time.Hour)
	if err := l.Allow("m", 10); err != nil {
		t.Errorf("after an hour: %v", err)
	}
}
