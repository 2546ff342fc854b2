package pacing

import (
	"fmt"
	"testing"
	"time"

	"dkimrelay/internal/testkit"
	"dkimrelay/relay/outcome"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestPacer(t *testing.T, l Limits) (*Pacer, *clock, *testkit.Logs) {
	logs := &testkit.Logs{}
	p := New(l, logs.Logger())
	c := &clock{t: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
	p.now = c.now
	return p, c, logs
}

func TestProviderOf(t *testing.T) {
	tests := []struct {
		host, want string
		big        bool
	}{
		{"gmail-smtp-in.l.google.com.", "google", true},
		{"alt1.aspmx.l.google.com", "google", true},
		{"example-com.mail.protection.outlook.com", "microsoft", true},
		{"mta7.am0.yahoodns.net", "yahoo", true},
		{"mx1.example.net", "example.net", false},
		{"example.net", "example.net", false},
		{"notgoogle.com", "notgoogle.com", false},
	}
	for _, tt := range tests {
		if got, big := ProviderOf(tt.host); got != tt.want || big != tt.big {
			t.Errorf("ProviderOf(%q) = %q, %v; want %q, %v", tt.host, got, big, tt.want, tt.big)
		}
	}
}

func TestThrottled(t *testing.T) {
	tests := []struct {
		code      int
		enh, text string
		want      bool
	}{
		{421, "4.7.28", "421-4.7.28 Our system has detected an unusual rate of unsolicited mail", true},
		{451, "4.7.650", "451 4.7.650 The mail server has been temporarily rate limited due to IP reputation", true},
		{421, "4.7.0", "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume", true},
		{451, "", "451 Too many messages, slow down", true},
		{421, "4.7.0", "421 4.7.0 Try again later, closing connection", false},
		{450, "4.2.1", "450 4.2.1 rate limited", false},
		{451, "4.3.0", "451 4.3.0 local error", false},
	}
	for _, tt := range tests {
		o := outcome.Remote("mx.example.net", tt.code, tt.enh, tt.text)
		if got := Throttled(o); got != tt.want {
			t.Errorf("Throttled(%d %s %q) = %v, want %v", tt.code, tt.enh, tt.text, got, tt.want)
		}
	}
}

// TestPauseGrowsAndRecovers: a throttle pauses the provider for Pause,
// the next one in a row for twice that; deliveries bring the rate back.
func TestPauseGrowsAndRecovers(t *testing.T) {
	p, c, logs := newTestPacer(t, Limits{Rate: 60, Pause: time.Minute, MaxPause: 3 * time.Minute})
	throttle := outcome.Remote("mx.google.com", 421, "4.7.28", "421 4.7.28 rate limited").For([]string{"a@gmail.com"})
	ok := outcome.Remote("mx.google.com", 250, "2.0.0", "250 ok").For([]string{"a@gmail.com"})

	for i, want := range []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute} {
		tk, _, why := p.Admit(fmt.Sprint("Q", i), "google", true, false)
		if tk == nil {
			t.Fatalf("round %d: not admitted: %s", i, why)
		}
		tk.Done(throttle)
		if got := p.Paused("google"); !got.Equal(c.t.Add(want)) {
			t.Fatalf("round %d: paused until %v, want %v later", i, got, want)
		}
		if tk, until, why := p.Admit("QX", "google", true, false); tk != nil || !until.Equal(c.t.Add(want)) || why == "" {
			t.Fatalf("round %d: admitted while paused (%v, %q)", i, until, why)
		}
		if tk, _, _ := p.Admit("QY", "other.example", false, false); tk == nil {
			t.Fatal("another provider is held by google's pause")
		} else {
			tk.Done(nil)
		}
		c.t = c.t.Add(want)
	}
	if n := len(logs.Events("provider_paused")); n != 3 {
		t.Errorf("%d provider_paused events, want 3", n)
	}
	// The rate is down to an eighth: one message per 8 s after the burst.
	pr := p.providers["google"]
	if pr.factor != 1.0/8 {
		t.Errorf("rate factor %v after three throttles, want 1/8", pr.factor)
	}
	for i := 0; pr.factor < 1; i++ {
		c.t = c.t.Add(time.Minute)
		tk, _, why := p.Admit(fmt.Sprint("R", i), "google", true, false)
		if tk == nil {
			t.Fatalf("delivery %d after the pauses not admitted: %s", i, why)
		}
		tk.Done(ok)
	}
	if pr.pauses != 0 || len(logs.Events("provider_resumed")) != 1 {
		t.Errorf("back at full rate: pauses %d, resumed events %v", pr.pauses, logs.Events("provider_resumed"))
	}
}

// TestBulkPacedBehindTransactional: bulk gets one slot per 1/BulkRate,
// reserved in order; transactional mail goes meanwhile.
func TestBulkPacedBehindTransactional(t *testing.T) {
	p, c, _ := newTestPacer(t, Limits{BulkRate: 6, Connections: 2, Pause: time.Minute})
	start := c.t
	tk, _, _ := p.Admit("B0", "google", true, true)
	if tk == nil {
		t.Fatal("the first bulk message was held")
	}
	tk.Done(nil)
	var slots []time.Time
	for i := 1; i <= 3; i++ {
		tk, until, _ := p.Admit(fmt.Sprint("B", i), "google", true, true)
		if tk != nil {
			t.Fatalf("bulk message %d went at once", i)
		}
		slots = append(slots, until)
	}
	for i, s := range slots {
		if want := start.Add(time.Duration(i+1) * 10 * time.Second); !s.Equal(want) {
			t.Errorf("bulk slot %d at %v, want %v", i+1, s, want)
		}
	}
	// Transactional mail is not held by the bulk backlog.
	t1, _, why := p.Admit("T1", "google", true, false)
	if t1 == nil {
		t.Fatalf("transactional held behind bulk: %s", why)
	}
	// With one of two connections in use, bulk leaves the other free.
	c.t = slots[0]
	if tk, _, _ := p.Admit("B1", "google", true, true); tk != nil {
		t.Error("bulk took the last free connection")
	}
	t1.Done(nil)
	if tk, _, why := p.Admit("B1", "google", true, true); tk == nil {
		t.Errorf("bulk message at its slot held: %s", why)
	}
}

// TestOtherDestinationsUncapped: destinations that are not big providers
// keep to max_per_domain in delivery alone; pacing neither caps nor paces
// their transactional mail.
func TestOtherDestinationsUncapped(t *testing.T) {
	p, _, _ := newTestPacer(t, Limits{Rate: 1, Connections: 1, Pause: time.Minute})
	for i := range 20 {
		if tk, _, why := p.Admit(fmt.Sprint("Q", i), "example.net", false, false); tk == nil {
			t.Fatalf("message %d to a small destination held: %s", i, why)
		}
	}
	if tk, _, _ := p.Admit("G1", "google", true, false); tk == nil {
		t.Fatal("the first message to google held")
	}
	if tk, _, _ := p.Admit("G2", "google", true, false); tk != nil {
		t.Error("a second concurrent delivery to google got past provider_connections = 1")
	}
}
