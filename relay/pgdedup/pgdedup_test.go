package pgdedup

import (
	"context"
	"testing"
	"time"

	"dkimrelay/cluster"
	"dkimrelay/cluster/clustertest"
	"dkimrelay/relay/dedup"
)

func openDB(t *testing.T) *cluster.DB {
	t.Helper()
	return clustertest.OpenNodes(t, "test")[0]
}

func key(b byte) dedup.Key { return dedup.Key{b} }

// TestWindowAcrossRelays: a key queued through relay a is found by relay
// b with a's queue ID; b waits for a's claim to end; a claim ended
// without a message lets b queue it.
func TestWindowAcrossRelays(t *testing.T) {
	db := openDB(t)
	a := New(db.Pool, "a", time.Hour)
	b := New(db.Pool, "b", time.Hour)
	ctx := context.Background()

	qid, c, err := a.Lookup(ctx, key(1))
	if err != nil || qid != "" || c == nil {
		t.Fatalf("first lookup: %q %v %v, want a claim", qid, c, err)
	}
	got := make(chan string, 1)
	go func() {
		qid, _, err := b.Lookup(ctx, key(1))
		if err != nil {
			t.Error(err)
		}
		got <- qid
	}()
	select {
	case q := <-got:
		t.Fatalf("b's lookup returned %q while a's claim was held", q)
	case <-time.After(300 * time.Millisecond):
	}
	if err := c.Done("QID1"); err != nil {
		t.Fatal(err)
	}
	select {
	case q := <-got:
		if q != "QID1" {
			t.Fatalf("b found %q, want QID1", q)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("b still waits after a's claim ended")
	}

	_, c, _ = a.Lookup(ctx, key(2))
	go func() {
		time.Sleep(200 * time.Millisecond)
		c.Done("") // not queued after all
	}()
	qid, c2, err := b.Lookup(ctx, key(2))
	if err != nil || qid != "" || c2 == nil {
		t.Fatalf("after an abandoned claim: %q %v %v, want a claim", qid, c2, err)
	}
	c2.Done("QID2")
	if qid, _, _ := a.Lookup(ctx, key(2)); qid != "QID2" {
		t.Fatalf("a found %q, want QID2", qid)
	}

	// A lookup gives up with its context.
	_, c3, _ := a.Lookup(ctx, key(3))
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, _, err := b.Lookup(short, key(3)); err == nil {
		t.Fatal("lookup of a held key returned before its context ended")
	}
	c3.Done("QID3")
}

// TestWindowExpires: past the window a key is new again, and its old
// rows leave the table.
func TestWindowExpires(t *testing.T) {
	db := openDB(t)
	w := New(db.Pool, "a", time.Second)
	ctx := context.Background()
	for i := range 3 {
		_, c, err := w.Lookup(ctx, key(byte(i)))
		if err != nil {
			t.Fatal(err)
		}
		c.Done("OLD")
	}
	if qid, _, _ := w.Lookup(ctx, key(0)); qid != "OLD" {
		t.Fatalf("within the window: %q, want OLD", qid)
	}
	time.Sleep(1100 * time.Millisecond)
	qid, c, err := w.Lookup(ctx, key(0))
	if err != nil || qid != "" || c == nil {
		t.Fatalf("past the window: %q %v %v, want a claim", qid, c, err)
	}
	if err := c.Done("NEW"); err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := db.Pool.QueryRow(ctx, "SELECT count(*) FROM cluster_duplicates").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Errorf("%d rows after the sweep, want 1 (the new entry)", rows)
	}
	if qid, _, _ := w.Lookup(ctx, key(0)); qid != "NEW" {
		t.Fatalf("after the sweep: %q, want NEW", qid)
	}
}
