package pgqueue

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"dkimrelay/cluster/clustertest"
	"dkimrelay/config"
	"dkimrelay/internal/pgtest"
	"dkimrelay/relay/outcome"
	"dkimrelay/relay/queue"
)

// open opens a store named node on the database conn.
func open(t *testing.T, conn, node string, lease time.Duration) *Store {
	t.Helper()
	db := clustertest.Open(t, conn, node)
	s, err := Open(Options{Pool: db.Pool, Node: node, Delivery: config.Defaults().Delivery, Lease: lease})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func commit(t *testing.T, s *Store, body []byte, rcpts ...string) string {
	t.Helper()
	sp, err := s.NewSpool()
	if err != nil {
		t.Fatal(err)
	}
	// Odd-sized writes cross the chunk boundaries anywhere.
	for b := body; len(b) > 0; {
		n := min(len(b), 7777)
		if _, err := sp.Write(b[:n]); err != nil {
			t.Fatal(err)
		}
		b = b[n:]
	}
	sig := "DKIM-Signature: v=1; a=ed25519-sha256; d=example.org; s=s1;\r\n\tb=abc\r\n"
	if err := sp.Commit(queue.Envelope{From: "app@example.org", Rcpts: rcpts, User: "app", Signatures: []string{sig}}); err != nil {
		t.Fatal(err)
	}
	return sp.ID()
}

func next(t *testing.T, s *Store, within time.Duration) *queue.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	m, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("Next on %s: %v", s.node, err)
	}
	return m
}

func outcomes(m *queue.Message, st outcome.Status) []outcome.Outcome {
	var os []outcome.Outcome
	for _, a := range m.Due(time.Now()) {
		os = append(os, outcome.Outcome{Rcpt: a, Status: st, Reply: "250 2.0.0 ok"})
	}
	return os
}

// TestStoreRoundTrip: a message of several chunks and a small one come
// back byte for byte after their signatures; an attempt deferred, retried
// and delivered leaves nothing behind.
func TestStoreRoundTrip(t *testing.T) {
	pg := pgtest.Start(t)
	s := open(t, pg.NewDatabase(t), "a", 0)
	big := bytes.Repeat([]byte("0123456789abcdef\r\n"), 3*chunkSize/18+5)
	bigID := commit(t, s, big, "x@example.net", "y@example.net", "x@example.net")
	smallID := commit(t, s, []byte("Subject: hi\r\n\r\nhello\r\n"), "z@example.net")

	if n, oldest := s.Stats(); n != 2 || oldest.IsZero() {
		t.Fatalf("Stats = %d, %v; want 2 and a time", n, oldest)
	}
	var listed []string
	if err := s.Walk(func(m *queue.Message) error { listed = append(listed, m.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 2 || listed[0] != bigID || listed[1] != smallID {
		t.Fatalf("Walk = %v, want [%s %s]", listed, bigID, smallID)
	}
	m, err := s.Get(bigID)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Rcpts) != 2 || m.Size != int64(len(big)) {
		t.Fatalf("Get: %d recipients (want 2, the repeated one once), size %d (want %d)", len(m.Rcpts), m.Size, len(big))
	}

	got := next(t, s, 10*time.Second)
	if got.ID != bigID {
		t.Fatalf("Next = %s, want the older %s", got.ID, bigID)
	}
	r, err := s.Open(got)
	if err != nil {
		t.Fatal(err)
	}
	wire, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte(got.Envelope.Signatures[0]), big...)
	if !bytes.Equal(wire, want) {
		t.Fatalf("Open gave %d bytes, want %d (signature then message)", len(wire), len(want))
	}

	changes, err := s.Record(got, outcomes(got, outcome.Transient), queue.Steps{})
	if err != nil || len(changes) != 2 || changes[0].State != queue.Deferred {
		t.Fatalf("Record transient = %v, %v; want two deferred", changes, err)
	}
	small := next(t, s, 10*time.Second)
	if small.ID != smallID {
		t.Fatalf("Next = %s, want %s (the other is deferred)", small.ID, smallID)
	}
	if _, err := s.Record(small, outcomes(small, outcome.Delivered), queue.Steps{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Retry(bigID); err != nil {
		t.Fatal(err)
	}
	again := next(t, s, 10*time.Second)
	if again.ID != bigID || again.Rcpts[0].Attempts != 1 || again.Rcpts[0].State != queue.Deferred {
		t.Fatalf("after Retry: %s attempts %d state %v", again.ID, again.Rcpts[0].Attempts, again.Rcpts[0].State)
	}
	if _, err := s.Record(again, outcomes(again, outcome.Delivered), queue.Steps{}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Stats(); n != 0 {
		t.Fatalf("%d messages left after every recipient was delivered", n)
	}
	if _, err := s.OpenRaw(bigID); !errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("OpenRaw of a delivered message: %v, want ErrNotFound", err)
	}
	var chunks int
	if err := s.pool.QueryRow(context.Background(), "SELECT count(*) FROM queue_chunks").Scan(&chunks); err != nil || chunks != 0 {
		t.Fatalf("%d chunks left (%v)", chunks, err)
	}
}

// TestLeaseExpires: a relay that stops renewing loses its lease, another
// takes the message, and the first one's late Record writes nothing.
func TestLeaseExpires(t *testing.T) {
	pg := pgtest.Start(t)
	conn := pg.NewDatabase(t)
	a := open(t, conn, "a", 2*time.Second)
	b := open(t, conn, "b", 2*time.Second)
	id := commit(t, a, []byte("Subject: x\r\n\r\nx\r\n"), "r@example.net")
	m := next(t, a, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	if got, err := b.Next(ctx); err == nil {
		t.Fatalf("b took %s while a's lease runs", got.ID)
	}
	cancel()
	a.Close() // a stops renewing, as a relay killed mid-delivery
	start := time.Now()
	taken := next(t, b, 10*time.Second)
	if taken.ID != id {
		t.Fatalf("b took %s, want %s", taken.ID, id)
	}
	t.Logf("taken over after %v", time.Since(start).Round(time.Millisecond))
	if _, err := b.Record(taken, outcomes(taken, outcome.Delivered), queue.Steps{}); err != nil {
		t.Fatal(err)
	}
	a2 := open(t, conn, "a", 2*time.Second)
	a2.inFlight[m.ID] = a.inFlight[m.ID]
	if changes, err := a2.Record(m, outcomes(m, outcome.Transient), queue.Steps{}); err != nil || changes != nil {
		t.Fatalf("a's late Record = %v, %v; want nothing written", changes, err)
	}
}

// TestRacingRelaysDeliverOnce: three relays with four workers each take
// 150 messages; every message is handed out exactly once.
func TestRacingRelaysDeliverOnce(t *testing.T) {
	pg := pgtest.Start(t)
	conn := pg.NewDatabase(t)
	stores := []*Store{open(t, conn, "a", 0), open(t, conn, "b", 0), open(t, conn, "c", 0)}
	const n = 150
	for i := range n {
		commit(t, stores[i%3], []byte("Subject: x\r\n\r\nx\r\n"), "r@example.net")
	}
	var mu sync.Mutex
	seen := make(map[string]int)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range stores {
		for range 4 {
			wg.Go(func() {
				for {
					m, err := s.Next(ctx)
					if err != nil {
						return
					}
					mu.Lock()
					seen[m.ID]++
					done := len(seen) == n
					mu.Unlock()
					if _, err := s.Record(m, outcomes(m, outcome.Delivered), queue.Steps{}); err != nil {
						t.Error(err)
					}
					if done {
						cancel()
					}
				}
			})
		}
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d of %d messages handed out", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("%s handed out %d times", id, c)
		}
	}
}

// TestDatabaseDown: with the database stopped a commit fails at once (the
// relay answers 451) and the store works again once it is back.
func TestDatabaseDown(t *testing.T) {
	pg := pgtest.Start(t)
	s := open(t, pg.NewDatabase(t), "a", 0)
	pg.Stop()
	start := time.Now()
	sp, err := s.NewSpool()
	if err != nil {
		t.Fatal(err)
	}
	sp.Write([]byte("Subject: x\r\n\r\nx\r\n"))
	if err := sp.Commit(queue.Envelope{From: "a@example.org", Rcpts: []string{"r@example.net"}}); err == nil {
		t.Fatal("commit succeeded with the database stopped")
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("the failed commit took %v", d)
	}
	if err := pg.Restart(); err != nil {
		t.Fatal(err)
	}
	id := commit(t, s, []byte("Subject: y\r\n\r\ny\r\n"), "r@example.net")
	if m := next(t, s, 10*time.Second); m.ID != id {
		t.Fatalf("Next = %s, want %s", m.ID, id)
	}
}

// TestPostpone: a recipient held back by pacing keeps its state and
// attempt count and waits until the given time with the reason as its
// last reply; the other recipient's outcome is recorded as usual.
func TestPostpone(t *testing.T) {
	pg := pgtest.Start(t)
	s := open(t, pg.NewDatabase(t), "a", 0)
	id := commit(t, s, []byte("Subject: x\r\n\r\nx\r\n"), "held@example.net", "sent@example.net")
	m := next(t, s, 10*time.Second)
	until := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	if err := s.Postpone(m, []string{"held@example.net"}, until, "provider paused"); err != nil {
		t.Fatal(err)
	}
	changes, err := s.Record(m, []outcome.Outcome{{Rcpt: "sent@example.net", Status: outcome.Delivered, Reply: "250 ok"}}, queue.Steps{})
	if err != nil || len(changes) != 1 || changes[0].Addr != "sent@example.net" {
		t.Fatalf("Record = %+v, %v; want the delivered recipient alone", changes, err)
	}
	got, err := s.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	h := got.Rcpts[0]
	if h.State != queue.Queued || h.Attempts != 0 || !h.NextAttempt.Equal(until) || h.LastReply != "provider paused" {
		t.Fatalf("held recipient = %+v, want queued, 0 attempts, until %v, the reason", *h, until)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if m, err := s.Next(ctx); err == nil {
		t.Fatalf("Next handed out %s, postponed for an hour", m.ID)
	}
}
