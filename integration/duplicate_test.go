package integration

import (
	"fmt"
	"strings"
	"testing"
)

// TestMastodonRetryNotDuplicated submits one notification three times the
// way a Sidekiq retry does (see testdata/mastodon_mail.rb): the mail gem
// renders it anew each time, with a new Message-ID, Date and MIME
// boundary. Every submission gets 250 with the first queue ID, the
// recipient gets one copy, and the relay remembers the message across a
// crash (SIGKILL) and restart.
func TestMastodonRetryNotDuplicated(t *testing.T) {
	t.Parallel()
	requireTool(t, rubyPath, debianRuby+" with the mail gem", "ruby ruby-mail")
	_, sinks, r := testbed(t, relayOptions{})

	render := func(minute int) mailGemDelivery {
		return mailGemDelivery{TestID: "mastodon-retry", Port: portOf(t, r.cfg.Listen), Authentication: "plain",
			UserName: userFull, Password: r.password(userFull), Domain: "mastodon.example.org",
			To: []string{"alice@example.net"}, Date: fmt.Sprintf("Thu, 03 Dec 2026 10:%02d:00 +0000", minute)}
	}
	var results []mailGemResult
	runScript(t, rubyPath, "testdata/mastodon_mail.rb", []mailGemDelivery{render(0), render(1)}, &results)
	r.kill()
	r.start()
	var again []mailGemResult
	runScript(t, rubyPath, "testdata/mastodon_mail.rb", []mailGemDelivery{render(2)}, &again)
	results = append(results, again...)
	if len(results) != 3 {
		t.Fatalf("the mail gem reported %d deliveries, want 3", len(results))
	}

	seen := map[string]bool{}
	var qid string
	for i, res := range results {
		m := queuedAs.FindStringSubmatch(res.Response)
		if !strings.HasPrefix(res.Response, "250") || m == nil {
			t.Fatalf("submission %d: the reply to DATA was %q, want 250 ... queued as QID", i+1, res.Response)
		}
		if seen[res.MessageID] || seen[res.Boundary] {
			t.Fatalf("submission %d: Message-ID %q or boundary %q repeats; the retry must be rendered anew", i+1, res.MessageID, res.Boundary)
		}
		seen[res.MessageID], seen[res.Boundary] = true, true
		if i == 0 {
			qid = m[1]
		} else if m[1] != qid {
			t.Errorf("submission %d: queued as %s, want the first submission's %s", i+1, m[1], qid)
		}
	}
	r.waitEvent(t, deliveryTimeout, "delivered", forQID(qid, "alice@example.net"))
	if got := len(r.eventsNamed("accepted", "")); got != 1 {
		t.Errorf("%d accepted events, want 1: the copies must not be queued", got)
	}
	if got := len(r.eventsNamed("duplicate", qid)); got != 2 {
		t.Errorf("%d duplicate events for %s, want 2", got, qid)
	}
	for _, e := range r.eventsNamed("duplicate", qid) {
		if e.str("user") != userFull {
			t.Errorf("duplicate event names user %q, want %q", e.str("user"), userFull)
		}
	}
	// Nothing else is queued, so nothing else can arrive: the sinks hold
	// the one delivery the log reports.
	if got := withTestID(sinks.all(), "mastodon-retry"); len(got) != 1 {
		t.Errorf("the recipient got %d copies, want 1: %s", len(got), summarize(got))
	}
}
