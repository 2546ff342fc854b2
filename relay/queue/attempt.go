package queue

import (
	"errors"
	"fmt"
	"time"

	"dkimrelay/relay/outcome"
)

// Steps are what Record runs after it decided the recipients' new states
// and before it writes them.
type Steps struct {
	// Bounce queues a bounce about the recipients that failed for good.
	// If it fails, they stay deferred and are decided again on a later
	// attempt: a crash can repeat a bounce, never lose one.
	Bounce func(failed []Change) error
	// Announce logs the new states, once Bounce has run. Before they are
	// written: a crash in between repeats the attempt and its events,
	// rather than leave a delivered message without its event.
	Announce func(changes []Change)
}

// Run runs the steps on the changes of an attempt: Bounce for the
// recipients that failed for good, then Announce. When the bounce cannot
// be queued, putBack turns each of those recipients back to deferred (in
// the store's record and in its change), so that a later attempt decides
// and bounces anew, and err says why. final reports that recipients failed
// for good and stay so: writing their state must be durable, or a crash
// would bring the message back and bounce it twice.
func (s Steps) Run(changes []Change, putBack func(c *Change)) (final bool, err error) {
	failed := 0
	for _, c := range changes {
		if c.State.Failed() {
			failed++
		}
	}
	if s.Bounce != nil && failed > 0 {
		list := make([]Change, 0, failed)
		for _, c := range changes {
			if c.State.Failed() {
				list = append(list, c)
			}
		}
		if err = s.Bounce(list); err != nil {
			for i := range changes {
				if c := &changes[i]; c.State.Failed() {
					putBack(c)
				}
			}
			failed, err = 0, fmt.Errorf("queueing the bounce: %w", err)
		}
	}
	if s.Announce != nil {
		s.Announce(changes)
	}
	return failed > 0, err
}

// Record records the outcomes of an attempt on m, which Next handed out,
// and returns the new state of each recipient they changed: Delivered;
// Deferred with its next attempt (exponential backoff, see the package
// documentation); Bounced; or Expired, a transient failure after
// Received+MaxLifetime. An outcome for a recipient that is not pending is
// ignored. The message is rescheduled, or removed once no recipient is
// pending.
//
// Between deciding the new states and writing them, while the message is
// still queued (OpenRaw works), Record runs steps: see Steps.
//
// If err is not nil otherwise, the new state could not be made durable: it
// holds in memory, but after a restart the attempt may be repeated
// (delivery is at-least-once). Record for a message deleted while in
// flight does nothing.
func (q *Queue) Record(m *Message, outcomes []outcome.Outcome, steps Steps) ([]Change, error) {
	q.mu.Lock()
	e, ok := q.msgs[m.ID]
	switch {
	case !ok:
		q.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrNotFound, m.ID)
	case !e.inFlight:
		q.mu.Unlock()
		return nil, fmt.Errorf("queue: Record for message %s, which is not in flight", m.ID)
	case e.deleted:
		delete(q.msgs, m.ID)
		q.mu.Unlock()
		return nil, nil
	case q.closed:
		q.mu.Unlock()
		return nil, ErrClosed
	}
	q.ops++
	now := q.now()
	changes := q.applyLocked(e.rec, outcomes, now)
	q.mu.Unlock()
	defer q.end()

	final, bounceErr := steps.Run(changes, func(c *Change) {
		q.mu.Lock()
		defer q.mu.Unlock()
		r := e.rec.rcpt(c.Addr)
		r.State, r.NextAttempt = Deferred, now.Add(q.minRetry)
		c.Recipient = *r
	})

	q.mu.Lock()
	_, pending := e.rec.due()
	var data []byte
	var err error
	if pending {
		data, err = encodeRecord(e.rec)
	}
	q.mu.Unlock()
	if err == nil {
		// A bounce was queued: the removal must be durable, or a crash
		// would bring the message back and bounce it twice.
		err = q.persist(e, data, pending, final)
	}

	q.mu.Lock()
	defer q.mu.Unlock()
	e.inFlight = false
	switch {
	case e.deleted:
		// Deleted during the attempt: no bounce either.
		delete(q.msgs, m.ID)
		return nil, nil
	case !pending:
		delete(q.msgs, m.ID)
	default:
		q.rescheduleLocked(e)
	}
	return changes, errors.Join(bounceErr, err)
}

// persist writes e's new state, or removes its files when nothing is
// pending, unless Delete got there first. durable makes a removal survive
// a crash (a directory fsync).
func (q *Queue) persist(e *entry, data []byte, pending, durable bool) error {
	e.fileMu.Lock()
	defer e.fileMu.Unlock()
	q.mu.Lock()
	deleted := e.deleted
	q.mu.Unlock()
	switch {
	case deleted:
		return nil
	case pending:
		// Noted before the write: a failed one may still have renamed
		// the file into place.
		e.hasJSON = true
		return q.writeRecord(e.rec.ID, data)
	case durable:
		return q.removeFiles(e)
	default:
		return q.removeDelivered(e)
	}
}

// applyLocked applies outcomes to rec and returns the recipients' new
// states.
func (q *Queue) applyLocked(rec *record, outcomes []outcome.Outcome, now time.Time) []Change {
	return q.policy().Apply(rec.Received, rec.rcpt, outcomes, now)
}

func (q *Queue) policy() Policy {
	return Policy{MinRetry: q.minRetry, MaxRetry: q.maxRetry, MaxLifetime: q.maxLifetime}
}

// Policy is the retry schedule of the package documentation, the same
// for every Store.
type Policy struct {
	MinRetry, MaxRetry, MaxLifetime time.Duration
}

// Apply applies the outcomes of an attempt to the recipients of a message
// received at received (rcpt finds a recipient by address, nil for none)
// and returns their new states; a recipient not pending is left alone.
func (p Policy) Apply(received time.Time, rcpt func(addr string) *Recipient, outcomes []outcome.Outcome, now time.Time) []Change {
	deadline := received.Add(p.MaxLifetime)
	// One jittered delay per attempt count: recipients that failed
	// together in this attempt (typically one domain) are retried
	// together, in one connection.
	delays := make(map[int]time.Duration)
	changes := make([]Change, 0, len(outcomes))
	for _, o := range outcomes {
		r := rcpt(o.Rcpt)
		if r == nil || !r.State.Pending() {
			continue
		}
		r.Attempts++
		r.LastReply = o.Reply
		switch o.Status {
		case outcome.Delivered:
			r.State, r.NextAttempt = Delivered, time.Time{}
		case outcome.Permanent:
			r.State, r.NextAttempt = Bounced, time.Time{}
		case outcome.Suppressed:
			r.State, r.NextAttempt = Suppressed, time.Time{}
		default:
			// Transient, and any unknown status: retrying is the
			// choice that cannot lose mail.
			if !now.Before(deadline) {
				r.State, r.NextAttempt = Expired, time.Time{}
				break
			}
			d, ok := delays[r.Attempts]
			if !ok {
				d = jitter(p.backoff(r.Attempts))
				delays[r.Attempts] = d
			}
			// The last attempt happens at the deadline, not up to
			// MaxRetry after it.
			r.State, r.NextAttempt = Deferred, now.Add(d)
			if r.NextAttempt.After(deadline) {
				r.NextAttempt = deadline
			}
		}
		changes = append(changes, Change{Recipient: *r, Outcome: o})
	}
	return changes
}
