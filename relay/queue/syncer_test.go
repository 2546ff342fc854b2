package queue

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestGroupCommit commits many messages at once and counts directory
// fsyncs through the fault seam, which also makes each fsync take a few
// milliseconds as on a real disk.
func TestGroupCommit(t *testing.T) {
	dir := queueDir(t)
	q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
	var dirSyncs atomic.Int64
	q.SetFaultHook(func(op, _ string) error {
		if op == "dirsync" {
			dirSyncs.Add(1)
			time.Sleep(5 * time.Millisecond)
		}
		return nil
	})
	const n = 50
	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
		ids   = make([]string, n)
	)
	for i := range n {
		wg.Go(func() {
			d, err := q.NewDraft()
			if err != nil {
				t.Error(err)
				return
			}
			d.Write(body(d.ID()))
			<-start
			if err := d.Commit(Envelope{Rcpts: []string{"b@example.net"}}); err != nil {
				t.Error(err)
				return
			}
			ids[i] = d.ID()
		})
	}
	close(start)
	wg.Wait()
	if got := dirSyncs.Load(); got >= n {
		t.Errorf("%d commits took %d directory fsyncs; group commit should share them", n, got)
	} else {
		t.Logf("%d commits, %d directory fsyncs", n, got)
	}
	q.SetFaultHook(nil)
	q.Close()

	q = mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
	if q.Len() != n {
		t.Errorf("Len after reopen = %d, want %d", q.Len(), n)
	}
	for _, id := range ids {
		rc, err := q.OpenRaw(id)
		if raw := readAll(t, rc, err); string(raw) != string(body(id)) {
			t.Errorf("message %s: %q", id, raw)
		}
	}
}

// TestDirSyncerCoversCaller checks the property group commit rests on:
// every caller returns only after an fsync that started after the caller
// arrived has finished.
func TestDirSyncerCoversCaller(t *testing.T) {
	var clock atomic.Int64 // logical time
	type span struct{ start, end int64 }
	var (
		mu     sync.Mutex
		fsyncs []span
	)
	s := newDirSyncer(func() error {
		sp := span{start: clock.Add(1)}
		time.Sleep(time.Millisecond)
		sp.end = clock.Add(1)
		mu.Lock()
		fsyncs = append(fsyncs, sp)
		mu.Unlock()
		return nil
	})
	const callers = 40
	calls := make([]span, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			for range 5 {
				arrive := clock.Add(1)
				if err := s.sync(); err != nil {
					t.Error(err)
				}
				calls[i] = span{arrive, clock.Add(1)}
				if !slices.ContainsFunc(fsyncsCopy(&mu, &fsyncs), func(f span) bool {
					return f.start > calls[i].start && f.end < calls[i].end
				}) {
					t.Errorf("caller %d (%v) returned without an fsync started after it arrived", i, calls[i])
				}
			}
		})
	}
	wg.Wait()
	if len(fsyncs) >= callers*5 {
		t.Errorf("%d syncs took %d fsyncs", callers*5, len(fsyncs))
	}
}

func fsyncsCopy[T any](mu *sync.Mutex, s *[]T) []T {
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(*s)
}

func TestDirSyncerError(t *testing.T) {
	boom := errors.New("boom")
	var calls atomic.Int64
	fail := make(chan struct{})
	s := newDirSyncer(func() error {
		if calls.Add(1) == 1 {
			<-fail // hold the first fsync until the followers wait
			return boom
		}
		return nil
	})
	first := make(chan error)
	go func() { first <- s.sync() }()
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	// A caller arriving now waits for the next fsync, which succeeds.
	second := make(chan error)
	go func() { second <- s.sync() }()
	time.Sleep(5 * time.Millisecond)
	close(fail)
	if err := <-first; !errors.Is(err, boom) {
		t.Errorf("leader of the failed fsync got %v", err)
	}
	if err := <-second; err != nil {
		t.Errorf("caller covered by the next, good fsync got %v", err)
	}
	if err := s.sync(); err != nil {
		t.Errorf("later sync: %v", err)
	}
}
