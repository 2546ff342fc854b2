package queue

import (
	"context"
	"dkimrelay/relay/outcome"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// nextNow takes the due message, failing if none is due.
func nextNow(t *testing.T, q *Queue) *Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := q.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return m
}

func TestBackoffSchedule(t *testing.T) {
	clock := newFakeClock()
	q := mustOpen(t, Options{Dir: queueDir(t), Now: clock.Now, Delivery: retrySchedule(time.Minute, time.Hour, 24*time.Hour)})
	id := commit(t, q, body("backoff"), Envelope{Rcpts: []string{"b@example.net", "c@example.net"}})
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
	for i, w := range want {
		w *= time.Minute
		m := nextNow(t, q)
		if m.ID != id {
			t.Fatalf("Next gave %s, want %s", m.ID, id)
		}
		changes, err := q.Record(m, []outcome.Outcome{
			{Rcpt: "b@example.net", Status: outcome.Transient, Reply: "451 4.3.0 try later"},
			{Rcpt: "c@example.net", Status: outcome.Transient, Reply: "421 busy"},
		}, Steps{})
		failed, next := failedOf(changes), nextOf(changes)
		if err != nil || len(failed) != 0 {
			t.Fatalf("Record: %v %v", failed, err)
		}
		delay := next.Sub(clock.Now())
		if delay < w*9/10 || delay > w*11/10 {
			t.Errorf("attempt %d: next attempt after %v, want %v ±10%%", i+1, delay, w)
		}
		m, _ = q.Get(id)
		for _, r := range m.Rcpts {
			if r.Attempts != i+1 || r.State != Deferred || !r.NextAttempt.Equal(next) {
				t.Errorf("attempt %d: recipient %+v, want %d attempts, deferred until %v (the group together)", i+1, r, i+1, next)
			}
		}
		if m.Rcpts[0].LastReply != "451 4.3.0 try later" {
			t.Errorf("LastReply = %q", m.Rcpts[0].LastReply)
		}
		clock.Set(next)
	}
}

func TestBackoffFunction(t *testing.T) {
	q := &Queue{minRetry: time.Minute, maxRetry: time.Hour}
	tests := []struct {
		n    int
		want time.Duration
	}{
		{1, time.Minute}, {2, 2 * time.Minute}, {3, 4 * time.Minute}, {6, 32 * time.Minute},
		{7, time.Hour}, {8, time.Hour}, {1000, time.Hour}, {1 << 30, time.Hour},
	}
	for _, tt := range tests {
		if got := q.backoff(tt.n); got != tt.want {
			t.Errorf("backoff(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
	huge := &Queue{minRetry: time.Minute, maxRetry: time.Duration(1<<63 - 1)}
	if got := huge.backoff(200); got <= 0 {
		t.Errorf("backoff overflowed: %v", got)
	}
}

func TestExpiry(t *testing.T) {
	clock := newFakeClock()
	dir := queueDir(t)
	q := mustOpen(t, Options{Dir: dir, Now: clock.Now, Delivery: retrySchedule(time.Hour, time.Hour, 3*time.Hour)})
	id := commit(t, q, body("expiry"), Envelope{From: "a@example.org", Rcpts: []string{"b@example.net"}})
	deadline := clock.Now().Add(3 * time.Hour)
	for attempt := 1; ; attempt++ {
		if attempt > 10 {
			t.Fatal("never expired")
		}
		m := nextNow(t, q)
		var quoted []byte
		changes, err := q.Record(m, []outcome.Outcome{{Rcpt: "b@example.net", Status: outcome.Transient, Reply: "451 later"}},
			Steps{Bounce: func([]Change) error {
				// The bounce may quote the message: it is still queued.
				rc, err := q.OpenRaw(id)
				quoted = readAll(t, rc, err)
				return nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		failed, next := failedOf(changes), nextOf(changes)
		if len(failed) > 0 {
			if clock.Now().Before(deadline) {
				t.Fatalf("expired at %v, before the deadline %v", clock.Now(), deadline)
			}
			if len(failed) != 1 || failed[0].State != Expired || failed[0].Addr != "b@example.net" ||
				failed[0].LastReply != "451 later" || failed[0].Attempts != attempt {
				t.Errorf("failed = %+v", failed[0])
			}
			if !next.IsZero() {
				t.Errorf("next = %v, want zero: nothing left", next)
			}
			if string(quoted) != string(body("expiry")) {
				t.Errorf("OpenRaw while bouncing the expiry: %q", quoted)
			}
			break
		}
		if next.After(deadline) {
			t.Errorf("next attempt %v after the deadline %v", next, deadline)
		}
		clock.Set(next)
	}
	if q.Len() != 0 {
		t.Errorf("Len = %d after expiry", q.Len())
	}
	if exists(filepath.Join(dir, id+".json")) || exists(filepath.Join(dir, id+".msg")) {
		t.Error(".json or .msg still there after the last recipient expired")
	}
	// Once the expiry is recorded (the bounce queued before), nothing of
	// the message is left.
	if _, err := q.OpenRaw(id); !errors.Is(err, ErrNotFound) {
		t.Errorf("OpenRaw after expiry: %v, want ErrNotFound", err)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("files left: %v", got)
	}
}

func TestMixedOutcomes(t *testing.T) {
	clock := newFakeClock()
	dir := queueDir(t)
	q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery, Now: clock.Now})
	id := commit(t, q, body("mixed"), Envelope{Rcpts: []string{"ok@a.example", "no@b.example", "later@c.example", "untried@d.example"}})

	m := nextNow(t, q)
	changes, err := q.Record(m, []outcome.Outcome{
		{Rcpt: "ok@a.example", Status: outcome.Delivered, Reply: "250 2.0.0 ok"},
		{Rcpt: "no@b.example", Status: outcome.Permanent, Reply: "550 5.1.1 no such user"},
		{Rcpt: "later@c.example", Status: outcome.Transient, Reply: "451 4.7.1 greylisted"},
		{Rcpt: "stranger@x.example", Status: outcome.Delivered},
	}, Steps{})
	if err != nil {
		t.Fatal(err)
	}
	failed := failedOf(changes)
	want := map[string]State{"ok@a.example": Delivered, "no@b.example": Bounced, "later@c.example": Deferred, "untried@d.example": Queued}
	if len(changes) != 3 {
		t.Errorf("changes = %+v, want the three attempted recipients", changes)
	}
	for _, c := range changes {
		if c.State != want[c.Addr] || c.Outcome.Rcpt != c.Addr {
			t.Errorf("change %+v, want state %v", c, want[c.Addr])
		}
	}
	if len(failed) != 1 || failed[0].Addr != "no@b.example" || failed[0].State != Bounced || failed[0].LastReply != "550 5.1.1 no such user" {
		t.Errorf("failed = %v", failed)
	}
	// The untried recipient is still due now, so the message is.
	if next := nextDue(t, q, id); !next.Equal(clock.Now()) {
		t.Errorf("next = %v, want now (untried recipient)", next)
	}

	// The state survives a restart.
	q.Close()
	q = mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery, Now: clock.Now})
	m, err = q.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range m.Rcpts {
		if r.State != want[r.Addr] {
			t.Errorf("after reopen %s is %v, want %v", r.Addr, r.State, want[r.Addr])
		}
	}

	m = nextNow(t, q)
	changes, err = q.Record(m, []outcome.Outcome{
		{Rcpt: "ok@a.example", Status: outcome.Transient}, // already delivered: ignored
		{Rcpt: "untried@d.example", Status: outcome.Delivered},
	}, Steps{})
	if err != nil || len(failedOf(changes)) != 0 {
		t.Fatalf("Record: %v %v", changes, err)
	}
	m, _ = q.Get(id)
	if m.Rcpts[0].State != Delivered || m.Rcpts[0].Attempts != 1 {
		t.Errorf("an outcome for a delivered recipient changed it: %+v", m.Rcpts[0])
	}
	if _, err := q.Next(canceled()); err == nil {
		t.Error("Next handed out a message with nothing due")
	}

	clock.Advance(2 * time.Minute)
	m = nextNow(t, q)
	changes, err = q.Record(m, []outcome.Outcome{{Rcpt: "later@c.example", Status: outcome.Delivered}}, Steps{})
	if err != nil || len(changes) != 1 || changes[0].State != Delivered || !nextOf(changes).IsZero() {
		t.Fatalf("last Record: %v %v", changes, err)
	}
	if got := files(t, dir); len(got) != 0 || q.Len() != 0 {
		t.Errorf("after every recipient is final: files %v, Len %d", got, q.Len())
	}
	if _, err := q.OpenRaw(id); !errors.Is(err, ErrNotFound) {
		t.Errorf("OpenRaw of a message delivered everywhere: %v, want ErrNotFound", err)
	}
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func TestNextIsExclusive(t *testing.T) {
	q := mustOpen(t, Options{Dir: queueDir(t), Delivery: defaultDelivery})
	const n = 30
	var committing sync.WaitGroup
	for i := range n {
		committing.Go(func() {
			d, err := q.NewDraft()
			if err == nil {
				d.Write(body(string(rune('a' + i%26))))
				err = d.Commit(Envelope{Rcpts: []string{"b@example.net"}})
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	committing.Wait()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
		errs = make(chan error, 8)
	)
	for range 8 {
		wg.Go(func() {
			for {
				m, err := q.Next(ctx)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				seen[m.ID]++
				if len(seen) == n {
					cancel()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Next returned %v, want context.Canceled", err)
		}
	}
	if len(seen) != n {
		t.Errorf("%d messages handed out, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("message %s handed out %d times while in flight", id, c)
		}
	}
}

func TestNextWaitsUntilDue(t *testing.T) {
	clock := newFakeClock()
	q := mustOpen(t, Options{Dir: queueDir(t), Delivery: defaultDelivery, Now: clock.Now})
	id := commit(t, q, body("wait"), Envelope{Rcpts: []string{"b@example.net"}})
	changes, err := q.Record(nextNow(t, q), []outcome.Outcome{{Rcpt: "b@example.net", Status: outcome.Transient}}, Steps{})
	if err != nil {
		t.Fatal(err)
	}
	next := nextOf(changes)

	got := make(chan *Message)
	go func() {
		m, err := q.Next(context.Background())
		if err != nil {
			t.Error(err)
		}
		got <- m
	}()
	select {
	case m := <-got:
		t.Fatalf("Next returned %s before it was due", m.ID)
	case <-time.After(50 * time.Millisecond):
	}
	clock.Set(next)
	q.mu.Lock()
	q.notifyLocked() // the fake clock cannot wake the timer
	q.mu.Unlock()
	if m := <-got; m.ID != id {
		t.Errorf("Next = %s, want %s", m.ID, id)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := q.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Next on an empty queue: %v, want DeadlineExceeded", err)
	}
}

func TestNextRealClock(t *testing.T) {
	q := mustOpen(t, Options{Dir: queueDir(t), Delivery: retrySchedule(30*time.Millisecond, defaultDelivery.RetryMax, defaultDelivery.MaxLifetime)})
	commit(t, q, body("real"), Envelope{Rcpts: []string{"b@example.net"}})
	changes, err := q.Record(nextNow(t, q), []outcome.Outcome{{Rcpt: "b@example.net", Status: outcome.Transient}}, Steps{})
	if err != nil {
		t.Fatal(err)
	}
	next := nextOf(changes)
	nextNow(t, q)
	if now := time.Now(); now.Before(next) {
		t.Errorf("Next returned at %v, before the message was due at %v", now, next)
	}
}

func TestNextAfterClose(t *testing.T) {
	q := mustOpen(t, Options{Dir: queueDir(t), Delivery: defaultDelivery})
	done := make(chan error)
	go func() {
		_, err := q.Next(context.Background())
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	q.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("Next after Close: %v, want ErrClosed", err)
	}
}

func TestRecordErrors(t *testing.T) {
	dir := queueDir(t)
	q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
	id := commit(t, q, body("d"), Envelope{Rcpts: []string{"b@example.net"}})
	m, _ := q.Get(id)
	if _, err := q.Record(m, nil, Steps{}); err == nil {
		t.Error("Record for a message not in flight succeeded")
	}
	if _, err := q.Record(&Message{ID: "0000000000000000000Z"}, nil, Steps{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Record for an unknown message: %v", err)
	}

	// A state change that cannot be written is reported, and the
	// message stays in memory and on disk in its previous state.
	m = nextNow(t, q)
	q.SetFaultHook(func(op, p string) error {
		if op == "sync" {
			return errors.New("disk on fire")
		}
		return nil
	})
	_, err := q.Record(m, []outcome.Outcome{{Rcpt: "b@example.net", Status: outcome.Transient}}, Steps{})
	if err == nil {
		t.Fatal("Record with a failing disk succeeded")
	}
	q.SetFaultHook(nil)
	if got := files(t, dir); !slices.Equal(got, []string{id + ".msg"}) {
		t.Errorf("files: %v, want the message file alone", got)
	}
	q.Close()
	q = mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
	if m, err := q.Get(id); err != nil || m.Rcpts[0].Attempts != 0 {
		t.Errorf("after reopen: %+v %v, want the state before the failed Record", m, err)
	}
}
