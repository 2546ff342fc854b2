package submission

import (
	"net/netip"
	"sync"
	"time"
)

// refusalLog bounds the log lines of refused connections: a client
// reconnecting in a loop from a blocked address, or past the connection
// limits, gets its first max_repeated_log_lines refusals a minute logged;
// the next line logged for it counts the ones left out (repeated).
type refusalLog struct {
	max int

	mu   sync.Mutex
	byIP map[netip.Addr]*refusalCount
}

type refusalCount struct {
	start time.Time // of the minute being counted
	n     int       // refusals in it
}

// refusalWindow is the period the refusals of one address are counted in.
const refusalWindow = time.Minute

// maxRefusalAddrs bounds the addresses tracked; past it the counts start
// again, which errs toward logging more, never less.
const maxRefusalAddrs = 10000

func newRefusalLog(max int) *refusalLog {
	return &refusalLog{max: max, byIP: map[netip.Addr]*refusalCount{}}
}

// note counts a refusal of ip at now and reports whether to log it, and
// how many refusals of ip were left out of the log before it.
func (r *refusalLog) note(ip netip.Addr, now time.Time) (log bool, skipped int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.byIP[ip]
	if c == nil {
		if len(r.byIP) >= maxRefusalAddrs {
			r.byIP = map[netip.Addr]*refusalCount{}
		}
		c = &refusalCount{start: now}
		r.byIP[ip] = c
	}
	if now.Sub(c.start) >= refusalWindow {
		skipped = max(0, c.n-r.max)
		c.start, c.n = now, 0
	}
	c.n++
	return c.n <= r.max, skipped
}
