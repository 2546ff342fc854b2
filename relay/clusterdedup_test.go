package relay

import (
	"testing"
	"time"
)

// TestClusterDuplicateWindow: the same message submitted to relay a, then
// again to relay b within the duplicate window, is answered by b with a's
// queue ID and delivered once.
func TestClusterDuplicateWindow(t *testing.T) {
	rig := newClusterRig(t, 2)
	sink, a, b := rig.sink, rig.relays[0], rig.relays[1]
	a.Start()
	b.Start()

	msg := hardMessage("dup", "u@cluster.test")
	first := mustSend(t, a.Addr(), []string{"u@cluster.test"}, msg)
	again := mustSend(t, b.Addr(), []string{"u@cluster.test"}, msg)
	if again != first {
		t.Fatalf("relay b answered the resubmission with %s, want relay a's %s", again, first)
	}
	if n := len(b.Logs.Events("duplicate")); n != 1 {
		t.Errorf("relay b logged %d duplicate events, want 1", n)
	}
	// A different message to the same recipient is queued on its own.
	other := mustSend(t, b.Addr(), []string{"u@cluster.test"}, hardMessage("other", "u@cluster.test"))
	if other == first {
		t.Fatalf("a different message got the first one's queue ID %s", first)
	}

	deadline := time.Now().Add(30 * time.Second)
	for len(sink.Messages()) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // a second delivery of the duplicate would show by now
	got := make(map[string]int)
	for _, m := range sink.Messages() {
		got[m.Header("Message-ID")]++
	}
	if got["<dup@"+hardDomain+">"] != 1 || got["<other@"+hardDomain+">"] != 1 || len(got) != 2 {
		t.Fatalf("deliveries by Message-ID: %v, want each of the two messages once", got)
	}
	if n := countInDB(t, rig.conn, "SELECT count(*) FROM cluster_duplicates WHERE qid <> ''"); n != 2 {
		t.Errorf("%d entries in the cluster's duplicate window, want 2", n)
	}
}
