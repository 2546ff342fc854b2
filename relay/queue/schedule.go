package queue

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
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
func (q *Queue) add(rec *record) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e := &entry{rec: rec, index: -1}
	q.msgs[rec.ID] = e
	q.rescheduleLocked(e)
}

// rescheduleLocked puts e in the schedule at its due time, or takes it
// out when it is in flight, deleted or has nothing queued.
func (q *Queue) rescheduleLocked(e *entry) {
	due, ok := e.rec.due()
	ok = ok && !e.inFlight && !e.deleted
	switch {
	case !ok && e.index >= 0:
		heap.Remove(&q.sched, e.index)
	case ok && e.index >= 0:
		e.dueAt = due
		heap.Fix(&q.sched, e.index)
	case ok:
		e.dueAt = due
		heap.Push(&q.sched, e)
	}
	q.notifyLocked()
}

// Next waits until a message has a recipient due and hands it out. The
// message is in flight until Done is called for it: Next never hands the
// same message to two callers at once. Next returns ctx.Err() when ctx
// ends and ErrClosed when the queue is closed.
//
// The caller should attempt the recipients with State Queued whose
// NextAttempt has come, then call Done.
func (q *Queue) Next(ctx context.Context) (*Message, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return nil, ErrClosed
		}
		wait := maxWait
		if len(q.sched) > 0 {
			e := q.sched[0]
			now := q.now()
			if !e.dueAt.After(now) {
				heap.Pop(&q.sched)
				e.inFlight = true
				m := e.rec.message()
				q.mu.Unlock()
				return m, nil
			}
			wait = min(e.dueAt.Sub(now), maxWait)
		}
		changed := q.changed
		q.mu.Unlock()

		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// Done records the results of an attempt on m, which Next handed out.
// Recipients without an outcome are unchanged; an outcome for a recipient
// that is not queued is ignored. It persists the new state and
// reschedules the message, or removes it when no recipient is left
// queued.
//
// It returns the recipients that have now failed for good (Bounced, or
// Expired because Received+MaxLifetime has passed), for the caller to
// send one bounce about, and the earliest next attempt if any recipient is
// still queued. The stored message stays readable through OpenRaw for a
// while after its last recipient failed, so the bounce can quote it.
//
// If err is not nil the new state could not be made durable: it holds in
// memory, but after a restart the attempt may be repeated (delivery is
// at-least-once). Done for a message deleted while in flight does nothing.
func (q *Queue) Done(m *Message, outcomes []Outcome) (failed []*Recipient, next time.Time, err error) {
	return q.DoneThen(m, outcomes, nil)
}

// DoneThen is Done with a step that runs after the outcomes are decided and
// before they are written: bounce receives the recipients that failed for
// good while the message is still on disk (OpenRaw works), typically to
// queue a bounce. If bounce returns an error, nothing is written: after a
// restart the message is attempted again and the bounce made again, so a
// crash can duplicate a bounce but never lose one.
func (q *Queue) DoneThen(m *Message, outcomes []Outcome, bounce func(failed []*Recipient) error) (failed []*Recipient, next time.Time, err error) {
	q.mu.Lock()
	e, ok := q.msgs[m.ID]
	switch {
	case !ok:
		q.mu.Unlock()
		return nil, time.Time{}, fmt.Errorf("%w: %s", ErrNotFound, m.ID)
	case !e.inFlight:
		q.mu.Unlock()
		return nil, time.Time{}, fmt.Errorf("queue: Done for message %s, which is not in flight", m.ID)
	case e.deleted:
		delete(q.msgs, m.ID)
		q.mu.Unlock()
		return nil, time.Time{}, nil
	case q.closed:
		q.mu.Unlock()
		return nil, time.Time{}, ErrClosed
	}
	q.ops++
	now := q.now()
	failed = q.applyLocked(e.rec, outcomes, now)
	next, pending := e.rec.due()
	var data []byte
	if pending {
		data, err = encodeRecord(e.rec)
	}
	id := e.rec.ID
	q.mu.Unlock()
	defer q.end()

	if err == nil && bounce != nil && len(failed) > 0 {
		if berr := bounce(failed); berr != nil {
			// The bounce is not safely queued: the failed recipients
			// stay queued and are attempted again later, which
			// decides (and bounces) anew.
			q.mu.Lock()
			for _, f := range failed {
				if r := e.rec.rcpt(f.Addr); r != nil {
					r.State, r.NextAttempt = Queued, now.Add(q.minRetry)
				}
			}
			failed = nil
			next, pending = e.rec.due()
			data, err = encodeRecord(e.rec)
			q.mu.Unlock()
			if err == nil {
				err = fmt.Errorf("queueing the bounce: %w", berr)
				if perr := q.persist(e, data, pending, false); perr != nil {
					err = errors.Join(err, perr)
				}
			}
			q.mu.Lock()
			e.inFlight = false
			q.rescheduleLocked(e)
			q.mu.Unlock()
			return nil, next, err
		}
	}
	if err == nil {
		err = q.persist(e, data, pending, len(failed) > 0)
	}

	q.mu.Lock()
	e.inFlight = false
	switch {
	case e.deleted:
		// Deleted during the attempt: no bounce either.
		delete(q.msgs, id)
		failed, next, err = nil, time.Time{}, nil
	case !pending:
		delete(q.msgs, id)
		if len(failed) > 0 {
			q.retired[id] = now.Add(failedRetention)
		}
	default:
		q.rescheduleLocked(e)
	}
	q.sweepRetiredLocked(now)
	q.mu.Unlock()
	return failed, next, err
}

// persist writes e's new state, or removes its files when nothing is
// pending, unless Delete got there first.
func (q *Queue) persist(e *entry, data []byte, pending, keepEML bool) error {
	e.fileMu.Lock()
	defer e.fileMu.Unlock()
	q.mu.Lock()
	deleted := e.deleted
	q.mu.Unlock()
	switch {
	case deleted:
		return nil
	case pending:
		return q.writeRecord(e.rec.ID, data)
	case keepEML:
		// A bounce is being queued: the removal must be durable, or a
		// crash would bring the message back and bounce it twice.
		return q.removeFiles(e.rec.ID, keepEML)
	default:
		return q.removeDelivered(e.rec.ID)
	}
}

// applyLocked applies outcomes to rec and returns the recipients that
// failed for good.
func (q *Queue) applyLocked(rec *record, outcomes []Outcome, now time.Time) []*Recipient {
	deadline := rec.Received.Add(q.maxLifetime)
	// One jittered delay per attempt count: recipients that failed
	// together in this attempt (typically one domain) are retried
	// together, in one connection.
	delays := make(map[int]time.Duration)
	var failed []*Recipient
	for _, o := range outcomes {
		r := rec.rcpt(o.Rcpt)
		if r == nil || r.State != Queued {
			continue
		}
		r.Attempts++
		r.LastReply = o.Reply
		switch o.Kind {
		case Delivered:
			r.State, r.NextAttempt = Delivered, time.Time{}
		case Permanent:
			r.State, r.NextAttempt = Bounced, time.Time{}
		default:
			// Transient, and any unknown kind: retrying is the
			// choice that cannot lose mail.
			if !now.Before(deadline) {
				r.State, r.NextAttempt = Expired, time.Time{}
				break
			}
			d, ok := delays[r.Attempts]
			if !ok {
				d = jitter(q.backoff(r.Attempts))
				delays[r.Attempts] = d
			}
			// The last attempt happens at the deadline, not up to
			// MaxRetry after it.
			r.NextAttempt = now.Add(d)
			if r.NextAttempt.After(deadline) {
				r.NextAttempt = deadline
			}
		}
		if r.State == Bounced || r.State == Expired {
			c := *r
			failed = append(failed, &c)
		}
	}
	return failed
}

// backoff is the delay after the n-th failed attempt: MinRetry, doubling,
// capped at MaxRetry.
func (q *Queue) backoff(n int) time.Duration {
	d := q.minRetry
	for i := 1; i < n && d < q.maxRetry; i++ {
		if d > q.maxRetry/2 {
			return q.maxRetry
		}
		d *= 2
	}
	return min(d, q.maxRetry)
}

// jitter spreads d by ±10 % so that messages deferred together (a remote
// server that was down) do not all come back in the same second.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.9 + 0.2*rand.Float64()))
}

// sweepRetiredLocked removes the kept .eml files whose time has come.
func (q *Queue) sweepRetiredLocked(now time.Time) {
	for id, until := range q.retired {
		if now.After(until) {
			delete(q.retired, id)
			if err := removeIfExists(q.path(id + ".eml")); err != nil {
				q.log.Warn("queue_cleanup", "qid", id, "error", err.Error())
			}
		}
	}
}

func removeIfExists(name string) error {
	if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
