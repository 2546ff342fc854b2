package queue

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// waitSpares waits until q's pool holds n spares ready.
func waitSpares(t *testing.T, q *Queue, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for q.spares.readyLen() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d spares ready, want %d", q.spares.readyLen(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSparesCommitWithoutDirectoryFsync: a message committed into a spare
// costs one file fsync and no directory fsync; the spares are never
// counted, listed or kept as messages, and a clean Close removes them.
func TestSparesCommitWithoutDirectoryFsync(t *testing.T) {
	dir := queueDir(t)
	q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery, Spares: 8})
	waitSpares(t, q, 8)
	var dirsyncs, syncs atomic.Int64
	q.SetFaultHook(func(op, _ string) error {
		switch op {
		case "dirsync":
			dirsyncs.Add(1)
		case "sync":
			syncs.Add(1)
		}
		return nil
	})
	var ids []string
	for i := range 3 { // 5 left: more than half, no refill
		d, err := q.NewDraft()
		if err != nil {
			t.Fatal(err)
		}
		if !d.spare {
			t.Fatalf("draft %d did not take a spare", i)
		}
		d.Write(body("spare"))
		if err := d.Commit(Envelope{From: "a@example.org", Rcpts: []string{"b@example.net"}, Signatures: []string{testSig}}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID())
	}
	if n := dirsyncs.Load(); n != 0 {
		t.Errorf("%d directory fsyncs for 3 commits into spares, want 0", n)
	}
	if n := syncs.Load(); n != 3 {
		t.Errorf("%d file fsyncs for 3 commits, want 3", n)
	}
	if q.Len() != 3 || len(q.List()) != 3 {
		t.Errorf("Len %d, List %d: want the 3 messages alone", q.Len(), len(q.List()))
	}
	spares := 0
	for _, f := range files(t, dir) {
		if q.IsSpare(f) {
			spares++
			if fi, err := os.Stat(q.path(f)); err != nil || fi.Size() != 0 {
				t.Errorf("spare %s: %v, size not 0", f, err)
			}
		}
	}
	if spares != 5 {
		t.Errorf("%d spares in the folder, want 5", spares)
	}
	for _, id := range ids {
		if q.IsSpare(id + ".msg") {
			t.Errorf("committed message %s still counted as a spare", id)
		}
	}

	q.Close()
	if got := files(t, dir); len(got) != 3 {
		t.Fatalf("after Close: %v, want the 3 messages alone", got)
	}
	q2 := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
	for _, id := range ids {
		m, err := q2.Get(id)
		if err != nil {
			t.Fatalf("message %s lost: %v", id, err)
		}
		rc, err := q2.Open(m)
		if raw := readAll(t, rc, err); !bytes.HasSuffix(raw, body("spare")) {
			t.Errorf("message %s reads back as %q", id, raw)
		}
	}
}

// TestSparesFailingDirectoryFsync: a pool whose directory fsync fails
// hands out no new spare; once the durable ones are used, a draft creates
// its own file and its commit fails at the directory fsync with
// ErrNoSpace, leaving nothing behind. When the disk recovers, the pool
// fills again.
func TestSparesFailingDirectoryFsync(t *testing.T) {
	dir := queueDir(t)
	q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery, Spares: 4})
	waitSpares(t, q, 4)
	q.SetFaultHook(func(op, p string) error {
		if op == "dirsync" {
			return &os.PathError{Op: "fsync", Path: p, Err: syscall.ENOSPC}
		}
		return nil
	})
	env := Envelope{From: "a@example.org", Rcpts: []string{"b@example.net"}, Signatures: []string{testSig}}
	accepted := 0
	var failed error
	for range 2*4 + 1 {
		d, err := q.NewDraft()
		if err != nil {
			t.Fatal(err)
		}
		d.Write(body("full"))
		err = d.Commit(env)
		if err == nil {
			if !d.spare {
				t.Fatal("a draft that created its file was committed without its directory fsync")
			}
			accepted++
			continue
		}
		if d.spare {
			t.Fatalf("a commit into a spare failed: %v", err)
		}
		failed = err
		break
	}
	if !errors.Is(failed, ErrNoSpace) {
		t.Fatalf("with the directory fsync failing: %v, want ErrNoSpace after the durable spares", failed)
	}
	if q.Len() != accepted {
		t.Errorf("Len %d, want the %d committed into spares", q.Len(), accepted)
	}
	msgs := 0
	for _, f := range files(t, dir) {
		if !q.IsSpare(f) {
			msgs++
		}
	}
	if msgs != accepted {
		t.Errorf("%d message files, want %d: the refused draft left its file", msgs, accepted)
	}

	q.SetFaultHook(nil)
	waitSpares(t, q, 4)
	d, err := q.NewDraft()
	if err != nil {
		t.Fatal(err)
	}
	d.Write(body("after"))
	if err := d.Commit(env); err != nil || !d.spare {
		t.Fatalf("after the disk recovered: %v, spare %v", err, d.spare)
	}
}

// TestSparesStale: a spare older than spareMaxAge is not handed out (its
// queue ID would carry a time long before the message's arrival); the
// draft creates its own file and the pool replaces the old spares with
// fresh ones.
func TestSparesStale(t *testing.T) {
	dir := queueDir(t)
	clock := newFakeClock()
	q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery, Spares: 4, Now: clock.Now})
	waitSpares(t, q, 4)
	old := files(t, dir)
	clock.Advance(spareMaxAge + time.Second)
	d, err := q.NewDraft()
	if err != nil {
		t.Fatal(err)
	}
	if d.spare {
		t.Fatal("a stale spare was handed out")
	}
	d.Abort()
	waitSpares(t, q, 4)
	for _, f := range old {
		if exists(q.path(f)) {
			t.Errorf("stale spare %s not removed", f)
		}
	}
	fresh, err := newID(clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	d, err = q.NewDraft()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Abort()
	// The first 10 digits of an ID are its millisecond time.
	if !d.spare || !strings.HasPrefix(d.ID(), fresh[:10]) {
		t.Errorf("draft %s (spare %v), want a spare made at %v (%s…)", d.ID(), d.spare, clock.Now(), fresh[:10])
	}
}

// TestSparesIdle: spares nobody takes are removed once stale and not
// renewed until a draft asks for one: an idle relay does not fsync its
// folder to keep spares fresh.
func TestSparesIdle(t *testing.T) {
	dir := queueDir(t)
	clock := newFakeClock()
	q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery, Spares: 4, Now: clock.Now})
	waitSpares(t, q, 4)
	var dirsyncs atomic.Int64
	q.SetFaultHook(func(op, _ string) error {
		if op == "dirsync" {
			dirsyncs.Add(1)
		}
		return nil
	})
	clock.Advance(spareMaxAge + time.Second)
	q.spares.expire() // what the goroutine's ticker does
	q.spares.wake()
	deadline := time.Now().Add(10 * time.Second)
	for len(files(t, dir)) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("stale spares left: %v", files(t, dir))
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if n := q.spares.readyLen(); n != 0 || dirsyncs.Load() != 0 {
		t.Errorf("an idle pool renewed its spares: %d ready, %d directory fsyncs", n, dirsyncs.Load())
	}
	// A draft asks: it creates its own file, and the pool fills again.
	d, err := q.NewDraft()
	if err != nil {
		t.Fatal(err)
	}
	d.Abort()
	if d.spare {
		t.Error("a draft took a spare from an empty pool")
	}
	waitSpares(t, q, 4)
}
