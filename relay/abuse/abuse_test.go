package abuse

import (
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
	g := NewAuthGuard(DefaultAuthPolicy, c.now)
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
	g.Success(ip)
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
	g := NewAuthGuard(DefaultAuthPolicy, c.now)
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
	// Success clears a tarpit that was not yet a block.
	ip2 := netip.MustParseAddr("192.0.2.1")
	g.Failure(ip2, "a")
	g.Success(ip2)
	if d := g.Delay(ip2, "b"); d != 0 {
		t.Errorf("delay after success = %v", d)
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
