package tlsrpt

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
	Start    time.Time                `json:"start"`
	Policies map[string]*PolicyReport `json:"policies"` // by domain, type and policy string
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
		s.state.Policies = map[string]*PolicyReport{}
	}
	if s.state.Start.IsZero() {
		s.state.Start = now().UTC()
	}
	return s, nil
}

// Record counts one session.
func (s *Store) Record(sess Session) {
	key := sess.Domain + "\x00" + sess.PolicyType + "\x00" + strings.Join(sess.PolicyString, "\n")
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.state.Policies[key]
	if p == nil {
		p = &PolicyReport{Policy: PolicyDesc{Type: sess.PolicyType, String: sess.PolicyString, Domain: sess.Domain}}
		s.state.Policies[key] = p
	}
	if sess.MXHost != "" && !slices.Contains(p.Policy.MXHost, sess.MXHost) && sess.PolicyType == PolicySTS {
		p.Policy.MXHost = append(p.Policy.MXHost, sess.MXHost)
	}
	s.dirty = true
	if sess.Failure == "" {
		p.Summary.Successful++
		return
	}
	p.Summary.Failed++
	for i := range p.Failures {
		f := &p.Failures[i]
		if f.ResultType == sess.Failure && f.ReceivingMXHostname == sess.MXHost && f.ReceivingIP == sess.ReceivingIP {
			f.FailedSessionCount++
			return
		}
	}
	p.Failures = append(p.Failures, FailureDetail{ResultType: sess.Failure, ReceivingMXHostname: sess.MXHost,
		ReceivingIP: sess.ReceivingIP, FailedSessionCount: 1})
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
	span := DateRange{Start: s.state.Start, End: s.now().UTC()}
	byDomain := map[string][]PolicyReport{}
	for _, p := range s.state.Policies {
		byDomain[p.Policy.Domain] = append(byDomain[p.Policy.Domain], *p)
	}
	s.state = state{Start: span.End, Policies: map[string]*PolicyReport{}}
	s.dirty = true
	return span, byDomain, s.flushLocked()
}
