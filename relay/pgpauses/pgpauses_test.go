package pgpauses

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"dkimrelay/cluster"
	"dkimrelay/cluster/clustertest"
	"dkimrelay/relay/outcome"
	"dkimrelay/relay/pacing"
)

func openDB(t *testing.T) *cluster.DB {
	t.Helper()
	return clustertest.OpenNodes(t, "test")[0]
}

// relayGate is one relay's pacing in smarthost mode (every recipient is
// the provider "smarthost"), sharing its pauses through db.
func relayGate(db *cluster.DB, node string, pause time.Duration) *pacing.Gate {
	p := pacing.New(pacing.Limits{Pause: pause, MaxPause: 8 * pause}, slog.New(slog.DiscardHandler))
	p.SharePauses(New(db.Pool, node))
	return &pacing.Gate{Pacer: p, Providers: pacing.NewProviders(nil, "smarthost")}
}

func pausedRow(t *testing.T, db *cluster.DB) (until time.Time, pauses int, node string) {
	t.Helper()
	if err := db.Pool.QueryRow(context.Background(), "SELECT until, pauses, node FROM cluster_pauses WHERE provider = 'smarthost'").Scan(&until, &pauses, &node); err != nil {
		t.Fatal(err)
	}
	return until, pauses, node
}

// TestPauseHoldsForEveryRelay: the provider throttles relay a; relay b
// holds its mail until a's pause ends, then, throttled in turn, pauses
// for the doubled time (the cluster's backoff), which a then keeps to.
func TestPauseHoldsForEveryRelay(t *testing.T) {
	db := openDB(t)
	const pause = 2 * time.Second
	a, b := relayGate(db, "a", pause), relayGate(db, "b", pause)
	ctx := context.Background()
	rcpts := []string{"x@example.com"}
	throttle := outcome.Remote("smtp.example.net", 421, "4.7.0", "421 4.7.0 rate limited, slow down").For(rcpts)

	// Both relays have seen the store before the throttle.
	for _, g := range []*pacing.Gate{a, b} {
		adm, held := g.Split(ctx, "Q0", rcpts, false)
		if len(adm) != 1 || len(held) != 0 {
			t.Fatalf("before any throttle: admitted %v, held %v", adm, held)
		}
		adm[0].Ticket.Done(nil)
	}
	adm, _ := a.Split(ctx, "Q1", rcpts, false)
	adm[0].Ticket.Done(throttle)
	until, pauses, node := pausedRow(t, db)
	// The database keeps microseconds.
	if pauses != 1 || node != "a" || !until.Equal(a.Pacer.Paused("smarthost").Truncate(time.Microsecond)) {
		t.Fatalf("row: until %v, pauses %d, node %s; want a's pause %v, 1", until, pauses, node, a.Pacer.Paused("smarthost"))
	}

	time.Sleep(1100 * time.Millisecond) // b reads the store at most once a second
	adm, held := b.Split(ctx, "Q2", rcpts, false)
	if len(adm) != 0 || len(held) != 1 || !held[0].Until.Equal(until) || !strings.Contains(held[0].Why, "rate limited") {
		t.Fatalf("relay b during a's pause: admitted %v, held %+v; want held until %v", adm, held, until)
	}

	time.Sleep(time.Until(until) + 50*time.Millisecond)
	adm, held = b.Split(ctx, "Q3", rcpts, false)
	if len(adm) != 1 || len(held) != 0 {
		t.Fatalf("relay b after the pause: admitted %v, held %+v", adm, held)
	}
	start := time.Now()
	adm[0].Ticket.Done(throttle)
	until2, pauses, node := pausedRow(t, db)
	if pauses != 2 || node != "b" || until2.Sub(start) < 2*pause-100*time.Millisecond {
		t.Fatalf("row after b's throttle: until %v (in %v), pauses %d, node %s; want 2 throttles in a row, %v",
			until2, until2.Sub(start), pauses, node, 2*pause)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, held := a.Split(ctx, "Q4", rcpts, false); len(held) != 1 || !held[0].Until.Equal(until2) {
		t.Fatalf("relay a during b's pause: held %+v, want until %v", held, until2)
	}
}

// TestSaveKeepsTheLaterPause: a pause that ends sooner does not replace
// a later one another relay saved; Active leaves out the pauses past.
func TestSaveKeepsTheLaterPause(t *testing.T) {
	db := openDB(t)
	s := New(db.Pool, "a")
	ctx := context.Background()
	now := time.Now().Truncate(time.Microsecond)
	if err := s.Save(ctx, "google", pacing.Pause{Until: now.Add(time.Hour), Pauses: 3, Reply: "later"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, "google", pacing.Pause{Until: now.Add(time.Minute), Pauses: 1, Reply: "sooner"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, "yahoo", pacing.Pause{Until: now.Add(-time.Minute), Pauses: 1, Reply: "past"}); err != nil {
		t.Fatal(err)
	}
	active, err := s.Active(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	want := pacing.Pause{Until: now.Add(time.Hour), Pauses: 3, Reply: "later"}
	if len(active) != 1 || !active["google"].Until.Equal(want.Until) || active["google"].Pauses != 3 || active["google"].Reply != "later" {
		t.Fatalf("active %+v, want only google's later pause", active)
	}
}
