package queue

import (
	"container/heap"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"time"
)

// maxWait bounds how long Next sleeps before it looks at the clock again,
// so that a wall clock that jumps cannot strand a due message for long.
const maxWait = time.Minute

// schedule is a min-heap of the messages waiting for an attempt, by the
// earliest next attempt of their queued recipients.
type schedule []*entry

func (s schedule) Len() int { return len(s) }
func (s schedule) Less(i, j int) bool {
	if !s[i].dueAt.Equal(s[j].dueAt) {
		return s[i].dueAt.Before(s[j].dueAt)
	}
	return s[i].rec.ID < s[j].rec.ID
}
func (s schedule) Swap(i, j int) {
	s[i], s[j] = s[j], s[i]
	s[i].index, s[j].index = i, j
}
func (s *schedule) Push(x any) {
	e := x.(*entry)
	e.index = len(*s)
	*s = append(*s, e)
}
func (s *schedule) Pop() any {
	old := *s
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*s = old[:len(old)-1]
	e.index = -1
	return e
}

// add puts a committed or recovered message in the queue.
func (q *Queue) add(rec *record, hasJSON bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e := &entry{rec: rec, index: -1, hasJSON: hasJSON}
	q.msgs[rec.ID] = e
	q.rescheduleLocked(e)
}

// scheduleOf is the schedule e belongs in: bulk mail waits in its own,
// so that it never goes ahead of transactional mail that is due.
func (q *Queue) scheduleOf(e *entry) *schedule {
	if e.rec.Class == ClassBulk {
		return &q.bulk
	}
	return &q.sched
}

// rescheduleLocked puts e in its schedule at its due time, or takes it
// out when it is in flight, deleted or has nothing queued.
func (q *Queue) rescheduleLocked(e *entry) {
	due, ok := e.rec.due()
	ok = ok && !e.inFlight && !e.deleted
	s := q.scheduleOf(e)
	switch {
	case !ok && e.index >= 0:
		heap.Remove(s, e.index)
	case ok && e.index >= 0:
		e.dueAt = due
		heap.Fix(s, e.index)
	case ok:
		e.dueAt = due
		heap.Push(s, e)
	}
	q.notifyLocked()
}

// Next waits until a message has a recipient due and hands it out,
// transactional mail before bulk mail (docs/deliverability.md). The
// message is in flight until Record is called for it: Next never hands
// the same message to two callers at once. Next returns ctx.Err() when
// ctx ends and ErrClosed when the queue is closed.
//
// The caller should attempt the recipients that Message.Due lists, then
// call Record.
func (q *Queue) Next(ctx context.Context) (*Message, error) {
	var t *time.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	woken := false // took a wake that another waiter may need
	for {
		if err := ctx.Err(); err != nil {
			if woken {
				q.mu.Lock()
				q.notifyLocked()
				q.mu.Unlock()
			}
			return nil, err
		}
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return nil, ErrClosed
		}
		wait := maxWait
		now := q.now()
		for _, s := range [...]*schedule{&q.sched, &q.bulk} {
			if len(*s) == 0 {
				continue
			}
			e := (*s)[0]
			if !e.dueAt.After(now) {
				heap.Pop(s)
				e.inFlight = true
				m := e.rec.message()
				if len(q.sched)+len(q.bulk) > 0 {
					// Only one waiter was woken: hand the wake on, so
					// that another takes the next due message or sets
					// its timer for the next due time.
					q.notifyLocked()
				}
				q.mu.Unlock()
				return m, nil
			}
			wait = min(e.dueAt.Sub(now), wait)
		}
		q.mu.Unlock()

		if t == nil {
			t = time.NewTimer(wait)
		} else {
			t.Reset(wait)
		}
		woken = false
		select {
		case <-ctx.Done():
		case <-q.done:
		case <-q.wake:
			woken = true
		case <-t.C:
		}
	}
}

// backoff is the delay after the n-th failed attempt: MinRetry, doubling,
// capped at MaxRetry.
func (q *Queue) backoff(n int) time.Duration { return q.policy().backoff(n) }

func (p Policy) backoff(n int) time.Duration {
	d := p.MinRetry
	for i := 1; i < n && d < p.MaxRetry; i++ {
		if d > p.MaxRetry/2 {
			return p.MaxRetry
		}
		d *= 2
	}
	return min(d, p.MaxRetry)
}

// jitter spreads d by ±10 % so that messages deferred together (a remote
// server that was down) do not all come back in the same second.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.9 + 0.2*rand.Float64()))
}

func removeIfExists(name string) error {
	if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
