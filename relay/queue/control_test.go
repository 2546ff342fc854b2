package queue

import (
	"dkimrelay/relay/outcome"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestListAndGet(t *testing.T) {
	clock := newFakeClock()
	q := mustOpen(t, Options{Dir: queueDir(t), Delivery: defaultDelivery, Now: clock.Now})
	base := clock.Now()
	// Committed out of order of arrival: List sorts by Received.
	second := commit(t, q, body("2"), Envelope{Rcpts: []string{"b@example.net"}, Received: base.Add(time.Minute)})
	first := commit(t, q, body("1"), Envelope{Rcpts: []string{"b@example.net"}, Received: base})
	third := commit(t, q, body("3"), Envelope{Rcpts: []string{"b@example.net"}, Received: base.Add(2 * time.Minute)})
	var got []string
	for _, m := range q.List() {
		got = append(got, m.ID)
	}
	if want := []string{first, second, third}; !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}

	// Snapshots are copies.
	m, err := q.Get(first)
	if err != nil {
		t.Fatal(err)
	}
	m.Rcpts[0].State = Bounced
	m.Envelope.Rcpts[0] = "changed"
	if m2, _ := q.Get(first); m2.Rcpts[0].State != Queued || m2.Envelope.Rcpts[0] != "b@example.net" {
		t.Error("changing a snapshot changed the queue")
	}

	for _, id := range []string{"", "../../etc/passwd", "0000000000000000000z", "0000000000000000000Z", first + "X"} {
		if _, err := q.Get(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", id, err)
		}
		if _, err := q.OpenRaw(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("OpenRaw(%q) = %v, want ErrNotFound", id, err)
		}
		if err := q.Retry(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Retry(%q) = %v, want ErrNotFound", id, err)
		}
		if err := q.Delete(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Delete(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func TestRetry(t *testing.T) {
	clock := newFakeClock()
	q := mustOpen(t, Options{Dir: queueDir(t), Delivery: defaultDelivery, Now: clock.Now})
	var ids []string
	for i := range 3 {
		ids = append(ids, commit(t, q, body(string(rune('a'+i))), Envelope{Rcpts: []string{"b@example.net"}}))
	}
	for range ids {
		m := nextNow(t, q)
		q.Record(m, []outcome.Outcome{{Rcpt: "b@example.net", Status: outcome.Transient}}, Steps{})
	}
	if _, err := q.Next(canceled()); err == nil {
		t.Fatal("a message is due before any retry")
	}

	if err := q.Retry(ids[1]); err != nil {
		t.Fatal(err)
	}
	if m := nextNow(t, q); m.ID != ids[1] {
		t.Errorf("after Retry(%s) Next gave %s", ids[1], m.ID)
	}
	if _, err := q.Next(canceled()); err == nil {
		t.Error("Retry of one message made another due")
	}
	// ids[1] is in flight: RetryAll counts it but cannot hand it out twice.
	if n, err := q.RetryAll(); err != nil || n != 3 {
		t.Errorf("RetryAll = %d, want 3", n)
	}
	got := []string{nextNow(t, q).ID, nextNow(t, q).ID}
	slices.Sort(got)
	want := []string{ids[0], ids[2]}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("after RetryAll Next gave %v, want %v", got, want)
	}
}

func TestDelete(t *testing.T) {
	dir := queueDir(t)
	q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
	idle := commit(t, q, body("idle"), Envelope{From: "a@example.org", Rcpts: []string{"b@example.net"}})
	if err := q.Delete(idle); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Get(idle); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete: %v", err)
	}
	if err := q.Delete(idle); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete: %v", err)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("files after Delete: %v", got)
	}

	// In flight: deleted at once; the delivery's open reader keeps
	// working and its Record does nothing.
	busy := commit(t, q, body("busy"), Envelope{From: "a@example.org", Rcpts: []string{"b@example.net"}})
	m := nextNow(t, q)
	rc, err := q.Open(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Delete(busy); err != nil {
		t.Fatal(err)
	}
	if q.Len() != 0 || len(q.List()) != 0 {
		t.Errorf("deleted message still listed: Len %d", q.Len())
	}
	if _, err := q.Open(m); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open after Delete: %v", err)
	}
	if raw := readAll(t, rc, nil); string(raw) != string(body("busy")) {
		t.Errorf("reader opened before Delete: %q", raw)
	}
	changes, err := q.Record(m, []outcome.Outcome{{Rcpt: "b@example.net", Status: outcome.Permanent}}, Steps{Bounce: func([]Change) error {
		t.Error("Record after Delete bounced")
		return nil
	}})
	if err != nil || changes != nil {
		t.Errorf("Record after Delete = %v %v, want nothing", changes, err)
	}
	if exists(filepath.Join(dir, busy+".json")) || exists(filepath.Join(dir, busy+".msg")) {
		t.Error("files of a deleted message came back")
	}
	if _, err := q.Record(m, nil, Steps{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Record: %v", err)
	}
	q.Close()
	q = mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
	if q.Len() != 0 {
		t.Errorf("deleted messages came back after reopen: %d", q.Len())
	}
}

func TestStats(t *testing.T) {
	q := mustOpen(t, Options{Dir: queueDir(t), Delivery: defaultDelivery})
	if n, oldest := q.Stats(); n != 0 || !oldest.IsZero() {
		t.Fatalf("empty queue: Stats = %d, %v", n, oldest)
	}
	t0 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	var ids []string
	for _, d := range []time.Duration{2 * time.Hour, 0, time.Hour} {
		ids = append(ids, commit(t, q, body("s"), Envelope{From: "a@example.org", Rcpts: []string{"b@example.net"}, Received: t0.Add(d)}))
	}
	if n, oldest := q.Stats(); n != 3 || !oldest.Equal(t0) {
		t.Fatalf("Stats = %d, %v; want 3, %v", n, oldest, t0)
	}
	if err := q.Delete(ids[1]); err != nil {
		t.Fatal(err)
	}
	if n, oldest := q.Stats(); n != 2 || !oldest.Equal(t0.Add(time.Hour)) || q.Len() != 2 {
		t.Fatalf("after deleting the oldest: Stats = %d, %v; want 2, %v", n, oldest, t0.Add(time.Hour))
	}
}

// Walk goes oldest first over more messages than it copies at a time, and
// stops at the first error.
func TestWalk(t *testing.T) {
	q := mustOpen(t, Options{Dir: queueDir(t), Delivery: defaultDelivery})
	t0 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	n := walkChunk + 20
	for i := range n {
		// Received in reverse order of commit.
		commit(t, q, body("w"), Envelope{From: "a@example.org", Rcpts: []string{"b@example.net"}, Received: t0.Add(time.Duration(n-i) * time.Second)})
	}
	var seen []time.Time
	if err := q.Walk(func(m *Message) error {
		seen = append(seen, m.Envelope.Received)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != n || !slices.IsSortedFunc(seen, func(a, b time.Time) int { return a.Compare(b) }) {
		t.Fatalf("Walk saw %d messages, sorted: %v; want %d, oldest first", len(seen), slices.IsSortedFunc(seen, func(a, b time.Time) int { return a.Compare(b) }), n)
	}
	stop := errors.New("enough")
	calls := 0
	if err := q.Walk(func(*Message) error { calls++; return stop }); err != stop || calls != 1 {
		t.Errorf("Walk after an error: %v, %d calls", err, calls)
	}
	if got := len(q.List()); got != n {
		t.Errorf("List: %d messages, want %d", got, n)
	}
}
