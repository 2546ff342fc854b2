package tlsrpt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"dkimrelay/internal/atomicfile"
)

// Store counts sessions per policy domain since Start, and keeps the
// counts in a file so that they survive restarts (Flush writes them; the
// relay flushes every minute and when it stops).
type Store struct {
	path string
	now  func() time.Time

	mu    sync.Mutex
	state state
	dirty bool
}

type state struct {
	Start    time.Time `json:"start"`
	Policies Tally     `json:"policies"` // by domain, type and policy string
	// Pending are the reports waiting for another try (pending.go).
	Pending []PendingReport `json:"pending,omitempty"`
}

// Open reads the counts kept in dir (created when missing).
func Open(dir string, now func() time.Time) (*Store, error) {
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tlsrpt: %w", err)
	}
	s := &Store{path: filepath.Join(dir, "sessions.json"), now: now}
	b, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("tlsrpt: %w", err)
	default:
		if err := json.Unmarshal(b, &s.state); err != nil {
			return nil, fmt.Errorf("tlsrpt: %s is damaged (%v): move it away to start counting afresh", s.path, err)
		}
	}
	if s.state.Policies == nil {
		s.state.Policies = Tally{}
	}
	if s.state.Start.IsZero() {
		s.state.Start = now().UTC()
	}
	return s, nil
}

// Record counts one session.
func (s *Store) Record(sess Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.Policies.Add(sess)
	s.dirty = true
}

// Flush writes the counts when they changed.
func (s *Store) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flushLocked()
}

func (s *Store) flushLocked() error {
	if !s.dirty {
		return nil
	}
	b, err := json.Marshal(s.state)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(s.path, b, 0o600); err != nil {
		return fmt.Errorf("tlsrpt: keeping the session counts: %w", err)
	}
	s.dirty = false
	return nil
}

// Take returns the counts gathered since the last Take, per policy
// domain, with the span they cover, and starts counting afresh.
func (s *Store) Take() (DateRange, map[string][]PolicyReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.takeLocked()
}

func (s *Store) takeLocked() (DateRange, map[string][]PolicyReport, error) {
	span := DateRange{Start: s.state.Start, End: s.now().UTC()}
	byDomain := s.state.Policies.ByDomain()
	s.state = state{Start: span.End, Policies: Tally{}, Pending: s.state.Pending}
	s.dirty = true
	return span, byDomain, s.flushLocked()
}

// TakeDue is Take when the counts' span began at least age ago.
func (s *Store) TakeDue(_ context.Context, age time.Duration) (DateRange, map[string][]PolicyReport, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.now().Sub(s.state.Start) < age {
		return DateRange{}, nil, false, nil
	}
	span, byDomain, err := s.takeLocked()
	return span, byDomain, true, err
}

var _ Counts = (*Store)(nil)
