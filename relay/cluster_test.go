package relay

import (
	"fmt"
	"testing"
	"time"
)

// clusterOptions are the options of a relay of a cluster on the database
// conn, named node.
func clusterOptions(port int, conn, node string) hardOptions {
	return hardOptions{port: port, cluster: fmt.Sprintf("postgres = %q\nnode = %q\nlease = \"5s\"", conn, node)}
}

// TestClusterRelaysShareTheQueue: two relays on one database; messages
// submitted to either are delivered once each, by whichever relay leased
// them, and `accepted` on one relay may be `delivered` on the other.
func TestClusterRelaysShareTheQueue(t *testing.T) {
	rig := newClusterRig(t, 2)
	sink, a, b := rig.sink, rig.relays[0], rig.relays[1]
	a.Start()
	b.Start()

	const n = 40
	qids := make(map[string]bool)
	for i := range n {
		r := a
		if i%2 == 1 {
			r = b
		}
		qids[mustSend(t, r.Addr(), []string{fmt.Sprintf("u%d@cluster.test", i)}, hardMessage(fmt.Sprint(i), "u@cluster.test"))] = true
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(sink.Messages()) < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // a second delivery would show by now
	got := make(map[string]int)
	for _, m := range sink.Messages() {
		got[m.Header("Message-ID")]++
	}
	if len(got) != n {
		t.Fatalf("%d distinct messages reached the sink, want %d", len(got), n)
	}
	for id, c := range got {
		if c != 1 {
			t.Errorf("%s delivered %d times", id, c)
		}
	}
	delivered := 0
	for _, r := range []*hardRelay{a, b} {
		for _, ev := range r.Logs.Events("delivered") {
			if !qids[fmt.Sprint(ev["qid"])] {
				t.Errorf("delivered event for unknown qid %v", ev["qid"])
			}
			delivered++
		}
	}
	if delivered != n {
		t.Errorf("%d delivered events over both relays, want %d", delivered, n)
	}
	if q, _ := a.Daemon.store.Stats(); q != 0 {
		t.Errorf("%d messages still queued", q)
	}
}
