package queue

import (
	"fmt"
	"time"
)

// Postpone sets the next attempt of recipients of m, which Next handed out
// and which is still in flight, to until, with why as their last reply, and
// counts no attempt: the relay held them back (a provider paused or paced,
// docs/deliverability.md), no server refused them. Record, which must
// still be called, schedules the message and writes the new times with
// the rest of its record.
func (q *Queue) Postpone(m *Message, rcpts []string, until time.Time, why string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.msgs[m.ID]
	switch {
	case !ok:
		return fmt.Errorf("%w: %s", ErrNotFound, m.ID)
	case !e.inFlight:
		return fmt.Errorf("queue: Postpone for message %s, which is not in flight", m.ID)
	}
	for _, a := range rcpts {
		if r := e.rec.rcpt(a); r != nil && r.State.Pending() {
			if r.NextAttempt.Before(until) {
				r.NextAttempt = until
			}
			r.LastReply = why
		}
	}
	return nil
}
