package pgqueue

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"dkimrelay/internal/pgtest"
	"dkimrelay/relay/outcome"
	"dkimrelay/relay/queue"
)

// waitWaiting waits until n workers of s wait in Next.
func waitWaiting(t *testing.T, s *Store, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		s.mu.Lock()
		w := s.waiting
		s.mu.Unlock()
		if w >= n {
			return
		}
	}
	t.Fatalf("no %d workers waiting in Next", n)
}

// TestHandOff: a message committed while a worker waits goes to that
// worker already leased, its bytes from memory; another relay cannot take
// it meanwhile, and it is recorded and removed like any other. A message
// of several chunks is read back from the database.
func TestHandOff(t *testing.T) {
	pg := pgtest.Start(t)
	conn := pg.NewDatabase(t)
	a := open(t, conn, "a", 0)
	b := open(t, conn, "b", 0)
	for _, body := range [][]byte{
		[]byte("Subject: hi\r\n\r\nhello\r\n"),
		bytes.Repeat([]byte("0123456789abcdef\r\n"), 2*chunkSize/18+3),
	} {
		got := make(chan *queue.Message, 1)
		go func() {
			m, err := a.Next(context.Background())
			if err != nil {
				t.Error(err)
			}
			got <- m
		}()
		waitWaiting(t, a, 1)
		id := commit(t, a, body, "r@example.net")
		m := <-got
		if m == nil || m.ID != id {
			t.Fatalf("the waiting worker got %v, want %s", m, id)
		}
		var owner string
		if err := a.pool.QueryRow(context.Background(), "SELECT lease_owner FROM queue_messages WHERE id = $1", id).Scan(&owner); err != nil || owner != "a" {
			t.Fatalf("lease owner = %q, %v; want a", owner, err)
		}
		_, inMemory := a.body(id)
		if want := len(body) < chunkSize; inMemory != want {
			t.Errorf("%d bytes kept in memory: %v, want %v", len(body), inMemory, want)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		if other, err := b.Next(ctx); err == nil {
			t.Fatalf("b took %s, handed off to a worker of a", other.ID)
		}
		cancel()
		r, err := a.Open(m)
		if err != nil {
			t.Fatal(err)
		}
		wire, err := io.ReadAll(r)
		r.Close()
		if want := append([]byte(m.Envelope.Signatures[0]), body...); err != nil || !bytes.Equal(wire, want) {
			t.Fatalf("Open gave %d bytes (%v), want %d (signature then message)", len(wire), err, len(want))
		}
		if _, err := a.Record(m, outcomes(m, outcome.Delivered), queue.Steps{}); err != nil {
			t.Fatal(err)
		}
		if _, ok := a.body(id); ok {
			t.Error("the bytes stay in memory after Record")
		}
		if n, _ := a.Stats(); n != 0 {
			t.Fatalf("%d messages left after delivery", n)
		}
	}
}

// TestHandOffReleasedOnClose: a message handed off that no worker took
// when the relay stops is released at once, not after the lease, and
// another relay delivers it; bulk mail is never handed off.
func TestHandOffReleasedOnClose(t *testing.T) {
	pg := pgtest.Start(t)
	conn := pg.NewDatabase(t)
	a := open(t, conn, "a", time.Hour)
	b := open(t, conn, "b", time.Hour)
	// A worker waits, as far as commits can tell, and never comes back
	// for the message: it stopped, as workers do when the relay stops.
	a.mu.Lock()
	a.waiting = 1
	a.mu.Unlock()
	if a.promise(&queue.Message{Envelope: queue.Envelope{Class: queue.ClassBulk}}) {
		t.Error("bulk mail handed off")
	}
	id := commit(t, a, []byte("Subject: x\r\n\r\nx\r\n"), "r@example.net")
	a.mu.Lock()
	ready, owned := len(a.ready), a.inFlight[id] != 0
	a.mu.Unlock()
	if ready != 1 || !owned {
		t.Fatalf("%d messages handed off (in flight: %v), want %s", ready, owned, id)
	}
	a.Close()
	taken := next(t, b, 5*time.Second) // an hour's lease: only a release lets b take it now
	if taken.ID != id {
		t.Fatalf("b took %s, want %s", taken.ID, id)
	}
	if _, err := b.Record(taken, outcomes(taken, outcome.Delivered), queue.Steps{}); err != nil {
		t.Fatal(err)
	}
}
