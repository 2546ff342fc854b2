package delivery

import (
	"context"
	"sync"
)

// limiter bounds concurrent sessions per destination (a domain, or the
// smarthost), across all Deliver calls. Unused entries are removed, so the
// map does not grow with every domain ever seen.
type limiter struct {
	max   int
	mu    sync.Mutex
	slots map[string]*slot
}

type slot struct {
	sem   chan struct{}
	users int // holders and waiters
}

func newLimiter(max int) *limiter {
	return &limiter{max: max, slots: make(map[string]*slot)}
}

// acquire waits for a free slot for key; the returned func releases it.
func (l *limiter) acquire(ctx context.Context, key string) (func(), error) {
	l.mu.Lock()
	s := l.slots[key]
	if s == nil {
		s = &slot{sem: make(chan struct{}, l.max)}
		l.slots[key] = s
	}
	s.users++
	l.mu.Unlock()

	done := func() {
		l.mu.Lock()
		s.users--
		if s.users == 0 {
			delete(l.slots, key)
		}
		l.mu.Unlock()
	}
	select {
	case s.sem <- struct{}{}:
		return func() { <-s.sem; done() }, nil
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
}
