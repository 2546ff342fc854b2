package integration

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
)

// TestSuppressionList runs the suppression list against a receiver that
// answers 550 5.1.1 for one mailbox and a blocklist 550 5.7.1 for another:
// the first is suppressed (and stays so across a restart), later mail to
// it is accepted, not attempted and not bounced; the block suppresses
// nobody and is reported. The CLI lifts and adds suppressions while the
// relay runs.
func TestSuppressionList(t *testing.T) {
	t.Parallel()
	_, sinks, r := testbed(t, relayOptions{})
	const (
		sender  = "notifications@example.org"
		unknown = "unknown@example.net"
		listed  = "listed@example.net"
		alice   = "alice@example.net"
	)
	sinks.A.SetReply(func(p smtpsink.Phase, arg string) error {
		switch {
		case p == smtpsink.Rcpt && strings.EqualFold(arg, unknown):
			return testkit.SMTPError(550, "5.1.1", "The email account that you tried to reach does not exist")
		case p == smtpsink.Rcpt && strings.EqualFold(arg, listed):
			return testkit.SMTPError(550, "5.7.1", "Service unavailable; client host [127.0.0.1] blocked using Spamhaus")
		}
		return nil
	})
	n := 0
	send := func(to ...string) string {
		t.Helper()
		n++
		msg := message{From: sender, To: strings.Join(to, ", "), Subject: fmt.Sprintf("welcome %d", n),
			TestID: fmt.Sprintf("suppress-%d", n), Body: "Confirm your account.\n"}.bytes()
		return r.submit(t, submission{from: sender, to: to, msg: msg})
	}
	dsns := func() int {
		c := 0
		for _, m := range sinks.all() {
			if m.From == "" && slices.Contains(m.To, sender) {
				c++
			}
		}
		return c
	}

	q1 := send(unknown)
	r.waitEvent(t, deliveryTimeout, "bounced", forQID(q1, unknown))
	q2 := send(listed)
	r.waitEvent(t, deliveryTimeout, "bounced", forQID(q2, listed))
	b := r.waitEvent(t, deliveryTimeout, "blocked_by_receiver", forQID(q2, listed))
	if b.str("mx") == "" || !strings.Contains(b.str("reply"), "Spamhaus") || b.str("code") != "550" {
		t.Errorf("blocked_by_receiver %v: want the receiver, code 550 and its reply", b)
	}
	sinks.waitFor(t, deliveryTimeout, "two DSNs", func([]smtpsink.Message) bool { return dsns() == 2 })

	type entry struct {
		Addr, Reason, Reply, QID string
		Until                    time.Time
	}
	list := func() []entry {
		t.Helper()
		var l []entry
		if err := json.Unmarshal([]byte(r.mustCLI("", "suppressions", "list", "--json")), &l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := list()
	if len(l) != 1 || l[0].Addr != unknown || l[0].QID != q1 || !strings.Contains(l[0].Reply, "5.1.1") ||
		l[0].Until.Before(time.Now().Add(719*time.Hour)) {
		t.Fatalf("suppressions list --json = %+v; want %s alone, from %s's 5.1.1, for 720h", l, unknown, q1)
	}

	// A restart keeps the list. Mail to the suppressed address (in
	// another case) is accepted and not attempted; alice's copy goes.
	r.stop()
	r.start()
	q3 := send("Unknown@Example.NET", alice)
	s := r.waitEvent(t, deliveryTimeout, "suppressed", forQID(q3, "Unknown@Example.NET"))
	if !strings.Contains(s.str("reason"), "5.1.1") || s.str("until") == "" || s.str("until") == "never" {
		t.Errorf("suppressed event %v: want the bounce reply as reason and an until", s)
	}
	r.waitEvent(t, deliveryTimeout, "delivered", forQID(q3, alice))
	q4 := send(listed)
	r.waitEvent(t, deliveryTimeout, "bounced", forQID(q4, listed))
	sinks.waitFor(t, deliveryTimeout, "the DSN about "+q4, func([]smtpsink.Message) bool { return dsns() == 3 })
	if got := sinks.A.RcptAttempts(unknown); got != 1 {
		t.Errorf("%s was tried %d times, want once: suppressed after its 5.1.1", unknown, got)
	}
	if got := sinks.A.RcptAttempts(listed); got != 2 {
		t.Errorf("%s was tried %d times, want 2: a blocklist reply suppresses nobody", listed, got)
	}
	if e := r.eventsNamed("bounced", q3); len(e) != 0 {
		t.Errorf("a suppressed recipient bounced: %v", e)
	}

	// The CLI changes the list under the running relay.
	out := r.mustCLI("", "suppressions", "add", "trap@example.net", "--reason", "a spam trap")
	if !strings.Contains(out, "Suppressed trap@example.net") {
		t.Errorf("suppressions add printed %q", out)
	}
	r.mustCLI("", "suppressions", "remove", "UNKNOWN@example.net")
	q5 := send("trap@example.net", unknown)
	s = r.waitEvent(t, deliveryTimeout, "suppressed", forQID(q5, "trap@example.net"))
	if s.str("until") != "never" || !strings.Contains(s.str("reason"), "a spam trap") {
		t.Errorf("suppressed event %v: want reason \"a spam trap\" and until never", s)
	}
	r.waitEvent(t, deliveryTimeout, "bounced", forQID(q5, unknown))
	if got := sinks.A.RcptAttempts(unknown); got != 2 {
		t.Errorf("%s was tried %d times after its suppression was removed, want 2", unknown, got)
	}
	if got := sinks.A.RcptAttempts("trap@example.net"); got != 0 {
		t.Errorf("the trap was tried %d times", got)
	}
	if _, err := r.run("", "suppressions", "remove", "nobody@example.net"); err == nil {
		t.Error("removing an address that is not suppressed succeeded")
	}
}
