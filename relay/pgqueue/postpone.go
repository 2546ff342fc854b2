package pgqueue

import (
	"fmt"
	"time"

	"dkimrelay/relay/queue"
)

// postponement holds recipients of a message in flight back until a time,
// without an attempt counted (see queue.Queue.Postpone).
type postponement struct {
	rcpts []string
	until time.Time
	why   string
}

// Postpone sets the next attempt of rcpts of m, which Next leased, to
// until, with why as their last reply, and counts no attempt: the relay
// held them back (a provider paused or paced, docs/deliverability.md).
// Record, which must still be called, writes it with the rest.
func (s *Store) Postpone(m *queue.Message, rcpts []string, until time.Time, why string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.inFlight[m.ID]; !ok {
		return fmt.Errorf("queue: Postpone for message %s, which is not in flight", m.ID)
	}
	s.postponed[m.ID] = append(s.postponed[m.ID], postponement{rcpts: rcpts, until: until, why: why})
	return nil
}

// takePostponed applies and forgets the postponements of message id to
// rcpts (by address), for the recipients still pending, and returns
// those it changed.
func (s *Store) takePostponed(id string, rcpts map[string]*queue.Recipient) []queue.Change {
	s.mu.Lock()
	ps := s.postponed[id]
	delete(s.postponed, id)
	s.mu.Unlock()
	var held []queue.Change
	for _, p := range ps {
		for _, a := range p.rcpts {
			r := rcpts[a]
			if r == nil || !r.State.Pending() {
				continue
			}
			if r.NextAttempt.Before(p.until) {
				r.NextAttempt = p.until
			}
			r.LastReply = p.why
			held = append(held, queue.Change{Recipient: *r})
		}
	}
	return held
}
