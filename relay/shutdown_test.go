package relay

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
	"dkimrelay/relay/queue"
	"dkimrelay/resolver/dnstest"
)

// TestShutdownEndsStalledDelivery: a stop while one MX stalls (it accepts
// the connection and never greets, with command_timeout far away) and
// another is slow to answer the end of data returns once
// delivery.shutdown_timeout has passed. The slow delivery, done within
// it, is recorded delivered; the stalled one is cut and stays queued,
// deferred, for the next start: nothing bounced, nothing lost.
func TestShutdownEndsStalledDelivery(t *testing.T) {
	port, ls := testkit.ListenSame(t, "127.0.0.2", "127.0.0.3")
	arrived := make(chan struct{}, 1)
	testkit.ServeSink(t, ls[0], smtpsink.Config{Timeout: 30 * time.Second, Arrived: func(smtpsink.Message) {
		arrived <- struct{}{}
		time.Sleep(time.Second) // the reply to the final dot takes a second
	}})
	stalled := make(chan struct{}, 1)
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ls[1].Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			stalled <- struct{}{}
		}
	}()
	dns := dnstest.NewServer(t)
	dns.AddZone(hardZone)
	const grace = 3 * time.Second
	h := newHardRelay(t, dns, hardOptions{port: port, delivery: fmt.Sprintf(
		"workers = 2\ncommand_timeout = \"5m\"\nretry_min = \"1h\"\nretry_max = \"1h\"\nshutdown_timeout = %q", grace)})

	stuck := mustSend(t, h.Addr(), []string{"a@other.test"}, hardMessage("stuck", "a@other.test"))
	slow := mustSend(t, h.Addr(), []string{"b@good.test"}, hardMessage("slow", "b@good.test"))
	for _, c := range []chan struct{}{stalled, arrived} {
		select {
		case <-c:
		case <-time.After(10 * time.Second):
			t.Fatal("the deliveries did not reach the MX hosts")
		}
	}

	start := time.Now()
	h.Stop()
	took := time.Since(start)
	if took < grace-500*time.Millisecond || took > grace+10*time.Second {
		t.Errorf("the stop took %v, want about delivery.shutdown_timeout (%v)", took, grace)
	}
	if len(h.EventsFor("delivered", slow)) != 1 {
		t.Errorf("the delivery that ended within the shutdown timeout was not logged delivered: %v", h.EventsFor("delivered", slow))
	}
	deferred := h.EventsFor("deferred", stuck)
	if len(deferred) != 1 || !strings.Contains(fmt.Sprint(deferred[0]["reason"]), "shutdown_timeout") {
		t.Errorf("deferred events of the stalled delivery: %v, want one naming delivery.shutdown_timeout", deferred)
	}
	for _, ev := range []string{"bounced", "expired"} {
		if got := h.EventsFor(ev, stuck); len(got) > 0 {
			t.Errorf("the stalled delivery was %s: %v", ev, got)
		}
	}

	// On disk: the stalled message waits, deferred, for the next start;
	// the delivered one is gone.
	q, err := queue.Open(queue.Options{Dir: h.Config.QueueDir(), Delivery: h.Config.Delivery})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if _, err := q.Get(slow); err == nil {
		t.Errorf("the delivered message %s is still queued", slow)
	}
	m, err := q.Get(stuck)
	if err != nil {
		t.Fatalf("the stalled message is not queued after the stop: %v", err)
	}
	if r := m.Rcpts[0]; r.State != queue.Deferred || r.Attempts != 1 || !strings.Contains(r.LastReply, "shutdown_timeout") {
		t.Errorf("the stalled message's recipient after the stop: %+v, want deferred after 1 attempt, cut by the shutdown", r)
	}
}
