package pgqueue

import (
	"context"
	"testing"
	"time"

	"dkimrelay/internal/pgtest"
	"dkimrelay/relay/dedup"
	"dkimrelay/relay/pgdedup"
	"dkimrelay/relay/queue"
)

// TestJoinClaim: a claim of the duplicate window in the same database is
// ended by the message's commit, and another relay's lookup then finds
// the message; after a failed commit the claim is still the caller's to
// drop. A window in another database is not joined.
func TestJoinClaim(t *testing.T) {
	pg := pgtest.Start(t)
	s := open(t, pg.NewDatabase(t), "a", 0)
	ctx := context.Background()
	win := pgdedup.New(s.pool, "a", time.Hour)
	// The first Done of a window sweeps it, which a joined claim does
	// not: end one claim the ordinary way first.
	if _, c, err := win.Lookup(ctx, dedup.Key{9}); err != nil || c.Done("") != nil {
		t.Fatalf("first claim: %v", err)
	}
	_, c, err := win.Lookup(ctx, dedup.Key{1})
	if err != nil || c == nil {
		t.Fatalf("Lookup: %v %v, want a claim", c, err)
	}
	sp, err := s.NewSpool()
	if err != nil {
		t.Fatal(err)
	}
	if !sp.(*spool).JoinClaim(c) {
		t.Fatal("a claim of the same database was not joined")
	}
	sp.Write([]byte("Subject: x\r\n\r\nx\r\n"))
	if err := sp.Commit(queue.Envelope{From: "app@example.org", Rcpts: []string{"r@example.net"}}); err != nil {
		t.Fatal(err)
	}
	other := pgdedup.New(s.pool, "b", time.Hour)
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if qid, c2, err := other.Lookup(lctx, dedup.Key{1}); err != nil || qid != sp.ID() || c2 != nil {
		t.Fatalf("lookup after the commit: %q %v %v, want %s", qid, c2, err, sp.ID())
	}

	// A commit that fails (an envelope without recipients) leaves the
	// claim open: Done("") drops it and the key is free again.
	_, c, err = win.Lookup(ctx, dedup.Key{2})
	if err != nil || c == nil {
		t.Fatalf("Lookup: %v %v, want a claim", c, err)
	}
	sp, _ = s.NewSpool()
	sp.(*spool).JoinClaim(c)
	if err := sp.Commit(queue.Envelope{From: "app@example.org"}); err == nil {
		t.Fatal("a message without recipients was queued")
	}
	if err := c.Done(""); err != nil {
		t.Fatal(err)
	}
	if qid, c2, err := other.Lookup(lctx, dedup.Key{2}); err != nil || qid != "" || c2 == nil {
		t.Fatalf("lookup after the failed commit: %q %v %v, want a claim", qid, c2, err)
	}

	elsewhere := pgdedup.New(open(t, pg.NewDatabase(t), "a", 0).pool, "a", time.Hour)
	_, c, _ = elsewhere.Lookup(ctx, dedup.Key{3})
	sp, _ = s.NewSpool()
	defer sp.Abort()
	if sp.(*spool).JoinClaim(c) {
		t.Error("a claim of another database was joined")
	}
}
