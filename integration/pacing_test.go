package integration

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
)

// addBulkUser adds a login of the bulk class, as an administrator does for
// Mastodon's BULK_SMTP_* login.
func (r *relay) addBulkUser(name string) {
	r.t.Helper()
	pw := randomSecret()
	r.mustCLI(pw+"\n", "users", "add", name, "--class", "bulk", "--allow", "@example.org")
	r.passwords[name] = pw
	r.secrets = append(r.secrets, pw)
}

// sendMany submits one message per id as user on one connection.
func (r *relay) sendMany(t *testing.T, user string, ids []string) {
	t.Helper()
	c, err := r.dial(user, false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, id := range ids {
		msg := message{From: "news@example.org", To: "alice@example.net", Subject: "news " + id,
			TestID: id, Body: "Our terms of service change: " + id + "\n"}.bytes()
		if _, err := testkit.Send(c, "news@example.org", []string{"alice@example.net"}, msg, nil); err != nil {
			t.Fatalf("submitting %s: %v", id, err)
		}
	}
	c.Quit()
}

// TestProviderThrottle: the receiver answers 421 4.7.28 to the fourth
// message. The relay pauses the whole provider (both its MX hosts), shows
// why in queue list, and once the pause ends delivers everything it held,
// transactional mail before bulk.
func TestProviderThrottle(t *testing.T) {
	t.Parallel()
	_, sinks, r := testbed(t, relayOptions{configure: func(c *relayConfig) {
		c.Delivery.Extra = "provider_pause = \"3s\"\nprovider_pause_max = \"10s\"\nbulk_rate = 60\n"
	}})
	r.addBulkUser("news")
	var mu sync.Mutex
	accepted, throttled := 0, false
	reply := func(p smtpsink.Phase, arg string) error {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case p == smtpsink.Rcpt && accepted == 3 && !throttled:
			throttled = true
			return testkit.SMTPError(421, "4.7.28", "Our system has detected an unusual rate of unsolicited mail")
		case p == smtpsink.Data:
			accepted++
		}
		return nil
	}
	sinks.A.SetReply(reply)
	sinks.B.SetReply(reply)

	ids := func(prefix string, from, to int) []string {
		var l []string
		for i := from; i <= to; i++ {
			l = append(l, fmt.Sprintf("%s-%d", prefix, i))
		}
		return l
	}
	r.sendMany(t, userFull, ids("tx", 1, 3))
	sinks.waitFor(t, deliveryTimeout, "the first three", func(ms []smtpsink.Message) bool { return len(ms) == 3 })
	r.sendMany(t, userFull, ids("tx", 4, 4))
	p := r.waitEvent(t, deliveryTimeout, "provider_paused", nil)
	if p.str("provider") != "example.net" || !strings.Contains(p.str("reply"), "4.7.28") || p.str("until") == "" {
		t.Errorf("provider_paused %v: want provider example.net, the 4.7.28 reply and until", p)
	}
	// Held while paused: bulk first, then transactional.
	r.sendMany(t, "news", ids("bulk", 1, 3))
	r.sendMany(t, userFull, ids("tx", 5, 6))
	list := r.mustCLI("", "queue", "list")
	if !strings.Contains(list, "provider example.net paused until") {
		t.Errorf("queue list does not say the provider is paused:\n%s", list)
	}

	msgs := sinks.waitFor(t, deliveryTimeout, "all nine messages", func(ms []smtpsink.Message) bool { return len(ms) == 9 })
	var order []string
	for _, m := range msgs {
		order = append(order, testID(m))
	}
	after := order[3:]
	lastTx, firstBulk := -1, len(after)
	for i, id := range after {
		if strings.HasPrefix(id, "tx-") {
			lastTx = i
		} else if i < firstBulk {
			firstBulk = i
		}
	}
	if lastTx > firstBulk {
		t.Errorf("after the pause the messages arrived as %v: bulk went before transactional mail", after)
	}
	if n := sinks.A.RcptAttempts("alice@example.net") + sinks.B.RcptAttempts("alice@example.net"); n != 10 {
		t.Errorf("%d RCPT for alice, want 10 (nine messages and the throttled try): held mail must not be tried during the pause", n)
	}
}

// TestBulkBehindTransactional queues 2,000 bulk messages, then one
// transactional message: it is delivered while most of the bulk backlog
// still waits.
func TestBulkBehindTransactional(t *testing.T) {
	t.Parallel()
	_, sinks, r := testbed(t, relayOptions{configure: func(c *relayConfig) {
		c.Delivery.Extra = "bulk_rate = 600\n"
	}})
	r.addBulkUser("news")
	var bulk []string
	for i := range 2000 {
		bulk = append(bulk, fmt.Sprintf("announce-%d", i))
	}
	// Four connections at once, as a Sidekiq with several threads.
	var wg sync.WaitGroup
	for part := range 4 {
		wg.Go(func() { r.sendMany(t, "news", bulk[part*500:(part+1)*500]) })
	}
	wg.Wait()
	r.sendMany(t, userFull, []string{"password-reset"})
	msgs := sinks.waitFor(t, deliveryTimeout, "the password reset", func(ms []smtpsink.Message) bool {
		return len(withTestID(ms, "password-reset")) == 1
	})
	before := 0
	for _, m := range msgs {
		if testID(m) == "password-reset" {
			break
		}
		before++
	}
	t.Logf("the password reset arrived after %d of the 2000 bulk messages", before)
	if before > 1000 {
		t.Errorf("the password reset waited for %d of the 2000 bulk messages: it must go ahead of the bulk backlog", before)
	}
}
