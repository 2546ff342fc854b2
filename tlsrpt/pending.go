package tlsrpt

import (
	"time"
)

// RetryFor is how long a report that could not be sent is tried again
// (at each flush) before it is given up: RFC 8460 section 3 lets a
// sender give up on a report it cannot deliver, and a day later the
// next day's report is due.
const RetryFor = 24 * time.Hour

// RetryEvery is how long a report waits between tries.
const RetryEvery = time.Hour

// PendingReport is one policy domain's report that could not be sent
// yet (its _smtp._tls lookup failed temporarily, or queueing it
// failed): the counts it reports, kept until it is queued or RetryFor
// has passed since First.
type PendingReport struct {
	Domain   string         `json:"domain"`
	Span     DateRange      `json:"span"`
	Policies []PolicyReport `json:"policies"`
	First    time.Time      `json:"first"` // the first try
	Next     time.Time      `json:"next"`  // not tried again before
}

// Pending keeps the reports waiting for another try. A Counts that
// implements it gets a failed domain's report tried again; the others
// drop it.
type Pending interface {
	// TakePending returns the reports waiting whose next try is not
	// after due, and forgets them.
	TakePending(due time.Time) ([]PendingReport, error)
	// KeepPending durably adds reports to those waiting.
	KeepPending([]PendingReport) error
}

// TakePending implements Pending.
func (s *Store) TakePending(due time.Time) ([]PendingReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var taken, left []PendingReport
	for _, p := range s.state.Pending {
		if p.Next.After(due) {
			left = append(left, p)
		} else {
			taken = append(taken, p)
		}
	}
	if len(taken) == 0 {
		return nil, nil
	}
	s.state.Pending = left
	s.dirty = true
	return taken, s.flushLocked()
}

// KeepPending implements Pending: the reports are written to the file
// before it returns.
func (s *Store) KeepPending(ps []PendingReport) error {
	if len(ps) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.Pending = append(s.state.Pending, ps...)
	s.dirty = true
	return s.flushLocked()
}

var _ Pending = (*Store)(nil)
