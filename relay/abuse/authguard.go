// Package abuse holds the submission server's defences against password
// guessing and runaway senders: AUTH failure tracking per client address
// and per login, and per-login sending rates. Each limit has a config key
// and a default; state is in memory and bounded.
package abuse

import (
	"net/netip"
	"sync"
	"time"
)

// AuthPolicy configures AuthGuard.
type AuthPolicy struct {
	// MaxFailures within Window from one client address blocks that
	// address for Block.
	MaxFailures int
	Window      time.Duration
	Block       time.Duration
	// StepDelay is added per recent failure before answering an AUTH
	// (tarpitting), up to MaxDelay.
	StepDelay time.Duration
	MaxDelay  time.Duration
	// LoginDelay caps the delay a login's failures from other addresses
	// impose on a client that has not failed itself: someone guessing a
	// login's password must not lock its owner out.
	LoginDelay time.Duration
}

// DefaultAuthPolicy: 10 failures in 10 minutes block an address for 15
// minutes; each recent failure adds a second to the next answer (up to 5).
var DefaultAuthPolicy = AuthPolicy{
	MaxFailures: 10,
	Window:      10 * time.Minute,
	Block:       15 * time.Minute,
	StepDelay:   time.Second,
	MaxDelay:    5 * time.Second,
	LoginDelay:  time.Second,
}

// maxTracked bounds memory: past it, the oldest records are dropped.
const maxTracked = 100000

type record struct {
	failures     []time.Time // within the window, oldest first
	blockedUntil time.Time
}

// AuthGuard counts AUTH failures per client address and per login. A
// reconnect does not reset it: the count is kept by address, not by
// connection.
type AuthGuard struct {
	p   AuthPolicy
	now func() time.Time

	mu     sync.Mutex
	byIP   map[netip.Addr]*record
	byUser map[string]*record
}

// NewAuthGuard makes a guard; now may be nil (time.Now).
func NewAuthGuard(p AuthPolicy, now func() time.Time) *AuthGuard {
	if now == nil {
		now = time.Now
	}
	return &AuthGuard{p: p, now: now, byIP: map[netip.Addr]*record{}, byUser: map[string]*record{}}
}

// Prefix groups IPv6 clients by /64, since one host usually holds a whole
// /64 and could otherwise rotate addresses to escape the count.
func Prefix(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

func (r *record) prune(now time.Time, window time.Duration) {
	i := 0
	for i < len(r.failures) && now.Sub(r.failures[i]) > window {
		i++
	}
	r.failures = r.failures[i:]
}

// Blocked reports whether the address is blocked, and until when.
func (g *AuthGuard) Blocked(ip netip.Addr) (bool, time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.byIP[Prefix(ip)]
	if r == nil {
		return false, time.Time{}
	}
	now := g.now()
	return now.Before(r.blockedUntil), r.blockedUntil
}

// Delay is how long to wait before answering an AUTH from ip for login:
// a step per recent failure of the address, and at most LoginDelay for
// failures of the login from elsewhere.
func (g *AuthGuard) Delay(ip netip.Addr, login string) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	var d time.Duration
	if r := g.byIP[Prefix(ip)]; r != nil {
		r.prune(now, g.p.Window)
		d = time.Duration(len(r.failures)) * g.p.StepDelay
	}
	if d > g.p.MaxDelay {
		d = g.p.MaxDelay
	}
	if d == 0 {
		if r := g.byUser[login]; r != nil {
			r.prune(now, g.p.Window)
			if len(r.failures) > 0 {
				d = min(time.Duration(len(r.failures))*g.p.StepDelay, g.p.LoginDelay)
			}
		}
	}
	return d
}

// Failure records a failed AUTH and reports whether the address is now
// blocked.
func (g *AuthGuard) Failure(ip netip.Addr, login string) (blocked bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if len(g.byIP)+len(g.byUser) > maxTracked {
		g.sweepLocked(now)
	}
	key := Prefix(ip)
	r := g.byIP[key]
	if r == nil {
		r = &record{}
		g.byIP[key] = r
	}
	r.prune(now, g.p.Window)
	r.failures = append(r.failures, now)
	if len(r.failures) >= g.p.MaxFailures {
		r.blockedUntil = now.Add(g.p.Block)
		r.failures = nil
		blocked = true
	}
	if login != "" {
		u := g.byUser[login]
		if u == nil {
			u = &record{}
			g.byUser[login] = u
		}
		u.prune(now, g.p.Window)
		u.failures = append(u.failures, now)
		if len(u.failures) > g.p.MaxFailures {
			u.failures = u.failures[len(u.failures)-g.p.MaxFailures:]
		}
	}
	return blocked
}

// Success forgets the address's failures: the right password ends a
// tarpit that typos started.
func (g *AuthGuard) Success(ip netip.Addr) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if r := g.byIP[Prefix(ip)]; r != nil && !g.now().Before(r.blockedUntil) {
		delete(g.byIP, Prefix(ip))
	}
}

func (g *AuthGuard) sweepLocked(now time.Time) {
	for k, r := range g.byIP {
		r.prune(now, g.p.Window)
		if len(r.failures) == 0 && !now.Before(r.blockedUntil) {
			delete(g.byIP, k)
		}
	}
	for k, r := range g.byUser {
		r.prune(now, g.p.Window)
		if len(r.failures) == 0 {
			delete(g.byUser, k)
		}
	}
	// Still too many: a flood of distinct addresses. Dropping records
	// errs toward letting clients in, never toward locking them out.
	if len(g.byIP)+len(g.byUser) > maxTracked {
		g.byIP = map[netip.Addr]*record{}
		g.byUser = map[string]*record{}
	}
}
