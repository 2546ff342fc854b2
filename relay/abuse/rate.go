package abuse

import (
	"dkimrelay/config"
	"fmt"
	"sync"
	"time"
)

// RatePolicy configures per-login sending limits. Zero means no limit,
// which is the default: an instance's announcement to every user is a
// legitimate burst the relay must not slow.
type RatePolicy struct {
	MessagesPerMinute int
	RecipientsPerHour int
}

// RatePolicyOf reads the limits from the [submission] section
// (rate_messages_per_minute, rate_recipients_per_hour; 0: no limit).
func RatePolicyOf(s config.Submission) RatePolicy {
	return RatePolicy{MessagesPerMinute: s.RateMessagesPerMinute, RecipientsPerHour: s.RateRecipientsPerHour}
}

// window counts events in a fixed-size ring of time buckets.
type window struct {
	buckets []int
	stamps  []int64
	width   time.Duration
}

func newWindow(span time.Duration, n int) *window {
	return &window{buckets: make([]int, n), stamps: make([]int64, n), width: span / time.Duration(n)}
}

func (w *window) count(now time.Time) int {
	cur := now.UnixNano() / int64(w.width)
	total := 0
	for i, s := range w.stamps {
		if cur-s < int64(len(w.buckets)) {
			total += w.buckets[i]
		}
	}
	return total
}

func (w *window) add(now time.Time, n int) {
	cur := now.UnixNano() / int64(w.width)
	i := int(cur % int64(len(w.buckets)))
	if w.stamps[i] != cur {
		w.stamps[i], w.buckets[i] = cur, 0
	}
	w.buckets[i] += n
}

type loginRate struct {
	msgs, rcpts *window
	last        time.Time
}

// RateLimiter enforces RatePolicy per login.
type RateLimiter struct {
	p   RatePolicy
	now func() time.Time

	mu    sync.Mutex
	users map[string]*loginRate
}

// NewRateLimiter makes a limiter; now may be nil (time.Now).
func NewRateLimiter(p RatePolicy, now func() time.Time) *RateLimiter {
	if now == nil {
		now = time.Now
	}
	return &RateLimiter{p: p, now: now, users: map[string]*loginRate{}}
}

// Allow checks whether login may send one more message to rcpts
// recipients and, if so, counts it. The error says which limit was hit,
// for a 451 4.7.1 reply that makes the client retry later.
func (l *RateLimiter) Allow(login string, rcpts int) error {
	if l.p.MessagesPerMinute == 0 && l.p.RecipientsPerHour == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	u := l.users[login]
	if u == nil {
		if len(l.users) > maxTracked {
			for k, v := range l.users {
				if now.Sub(v.last) > time.Hour {
					delete(l.users, k)
				}
			}
		}
		u = &loginRate{msgs: newWindow(time.Minute, 12), rcpts: newWindow(time.Hour, 60)}
		l.users[login] = u
	}
	u.last = now
	if m := l.p.MessagesPerMinute; m > 0 && u.msgs.count(now)+1 > m {
		return fmt.Errorf("login %s has sent %d messages in the last minute (limit submission.rate_messages_per_minute = %d); try again later", login, m, m)
	}
	if r := l.p.RecipientsPerHour; r > 0 && u.rcpts.count(now)+rcpts > r {
		return fmt.Errorf("login %s would exceed %d recipients in an hour (limit submission.rate_recipients_per_hour); try again later", login, r)
	}
	u.msgs.add(now, 1)
	u.rcpts.add(now, rcpts)
	return nil
}
