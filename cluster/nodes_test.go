package cluster

import (
	"context"
	"testing"
	"time"

	"dkimrelay/internal/pgtest"
)

// TestHeartbeat: each relay counts the relays alive; one that stops is
// counted out at once, one that dies (no goodbye) once nodeTimeout has
// passed.
func TestHeartbeat(t *testing.T) {
	heartbeatEvery, nodeTimeout = 100*time.Millisecond, 500*time.Millisecond
	defer func() { heartbeatEvery, nodeTimeout = 10*time.Second, 30*time.Second }()
	pg := pgtest.Start(t)
	conn := pg.NewDatabase(t)
	open := func(node string) *DB {
		db, err := Open(context.Background(), Options{ConnString: conn, Node: node})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		return db
	}
	a, b := open("a"), open("b")
	counts := make(chan int, 100)
	actx, stopA := context.WithCancel(context.Background())
	aDone := make(chan struct{})
	defer func() { stopA(); <-aDone }() // before the intervals are restored
	go func() { a.Heartbeat(actx, func(n int) { counts <- n }); close(aDone) }()
	await := func(want int) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case n := <-counts:
				if n == want {
					return
				}
			case <-deadline:
				t.Fatalf("relay a never counted %d relays", want)
			}
		}
	}
	await(1)
	bctx, stopB := context.WithCancel(context.Background())
	bDone := make(chan struct{})
	go func() { b.Heartbeat(bctx, func(int) {}); close(bDone) }()
	await(2)
	stopB()
	<-bDone
	await(1)
	// A relay that dies says no goodbye: its row stays until it is stale.
	if _, err := b.Pool.Exec(context.Background(), "INSERT INTO cluster_nodes (node, seen_at) VALUES ('dead', now())"); err != nil {
		t.Fatal(err)
	}
	await(2)
	start := time.Now()
	await(1)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a dead relay counted for %v", d)
	}
}
