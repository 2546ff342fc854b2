// Package abuse holds the submission server's defences against password
// guessing and runaway senders: AUTH failure tracking per client address
// and per login, and per-login sending rates. Each limit has a config key
// and a default; state is in memory and bounded.
package abuse

import (
	"dkimrelay/config"
	"net/netip"
	"sync"
	"time"
)

// AuthPolicy configures AuthGuard.
type AuthPolicy struct {
	// MaxFailures within Window from one client address blocks that
	// address for Block, unless it is in Trusted; MaxFailures within
	// Window for one login from one address blocks that pair, trusted or
	// not. Failures age out of the window; nothing else forgives them.
	MaxFailures int
	Window      time.Duration
	Block       time.Duration
	// StepDelay is added per recent failure before answering a failed
	// AUTH (tarpitting), up to MaxDelay. A correct password is answered
	// at once.
	StepDelay time.Duration
	MaxDelay  time.Duration
	// LoginDelay caps the delay a login's failures from other addresses
	// impose on a client that has not failed itself: someone guessing a
	// login's password must not lock its owner out.
	LoginDelay time.Duration
	// Trusted are the networks never blocked outright: the application
	// shares their addresses (loopback, a container bridge, a NAT) with
	// whatever else runs there, and one local process must not lock it
	// out. Their failures still slow failed AUTHs and block the login
	// they target from that address.
	Trusted []netip.Prefix
}

// AuthPolicyOf reads the policy from the [submission] section:
// auth_max_failures failures within auth_failure_window block an address
// for auth_block, except for the trusted_networks; each recent failure
// adds auth_failure_delay to the next failed answer, up to five times that.
func AuthPolicyOf(s config.Submission) AuthPolicy {
	return AuthPolicy{
		MaxFailures: s.AuthMaxFailures,
		Window:      s.AuthFailureWindow,
		Block:       s.AuthBlock,
		StepDelay:   s.AuthFailureDelay,
		MaxDelay:    5 * s.AuthFailureDelay,
		LoginDelay:  s.AuthFailureDelay,
		Trusted:     s.TrustedNetworks,
	}
}

// maxTracked bounds memory: past it, the oldest records are dropped.
const maxTracked = 100000

type record struct {
	failures     []time.Time // within the window, oldest first
	blockedUntil time.Time
}

// pair is one login tried from one address.
type pair struct {
	ip    netip.Addr
	login string
}

// AuthGuard counts AUTH failures per client address, per (address, login)
// and per login. A reconnect does not reset it: the count is kept by
// address, not by connection; and a success forgives only the failures of
// the login that succeeded, from that address, so that one login's owner
// cannot wipe the record of guesses at another.
type AuthGuard struct {
	p   AuthPolicy
	now func() time.Time

	mu     sync.Mutex
	byIP   map[netip.Addr]*record
	byPair map[pair]*record
	byUser map[string]*record
}

// NewAuthGuard makes a guard; now may be nil (time.Now).
func NewAuthGuard(p AuthPolicy, now func() time.Time) *AuthGuard {
	if now == nil {
		now = time.Now
	}
	return &AuthGuard{p: p, now: now, byIP: map[netip.Addr]*record{}, byPair: map[pair]*record{}, byUser: map[string]*record{}}
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

// Trusted reports whether ip is in the networks never blocked outright.
func (g *AuthGuard) Trusted(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, n := range g.p.Trusted {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

func (r *record) prune(now time.Time, window time.Duration) {
	i := 0
	for i < len(r.failures) && now.Sub(r.failures[i]) > window {
		i++
	}
	r.failures = r.failures[i:]
}

// add records a failure at now and reports whether the record reached max
// failures within the window, which blocks it until now+block.
func (r *record) add(now time.Time, p AuthPolicy) bool {
	r.prune(now, p.Window)
	r.failures = append(r.failures, now)
	if len(r.failures) >= p.MaxFailures {
		r.blockedUntil = now.Add(p.Block)
		r.failures = r.failures[len(r.failures)-p.MaxFailures:]
	}
	return now.Before(r.blockedUntil)
}

// Blocked reports whether the address is blocked outright, and until
// when. An address of a trusted network never is.
func (g *AuthGuard) Blocked(ip netip.Addr) (bool, time.Time) {
	if g.Trusted(ip) {
		return false, time.Time{}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.byIP[Prefix(ip)]
	if r == nil {
		return false, time.Time{}
	}
	now := g.now()
	return now.Before(r.blockedUntil), r.blockedUntil
}

// Delay is how long to wait before answering a failed AUTH from ip for
// login: a step per recent failure of the address (or of the login from
// it, whichever is more), and at most LoginDelay for failures of the login
// from elsewhere.
func (g *AuthGuard) Delay(ip netip.Addr, login string) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	n := 0
	if r := g.byIP[Prefix(ip)]; r != nil {
		r.prune(now, g.p.Window)
		n = len(r.failures)
	}
	if r := g.byPair[pair{Prefix(ip), login}]; r != nil {
		r.prune(now, g.p.Window)
		n = max(n, len(r.failures))
	}
	d := min(time.Duration(n)*g.p.StepDelay, g.p.MaxDelay)
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

// Failure records a failed AUTH and reports whether the client is now
// blocked: its address (outside the trusted networks), or this login from
// its address.
func (g *AuthGuard) Failure(ip netip.Addr, login string) (blocked bool) {
	trusted := g.Trusted(ip)
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if len(g.byIP)+len(g.byPair)+len(g.byUser) > maxTracked {
		g.sweepLocked(now)
	}
	key := Prefix(ip)
	r := g.byIP[key]
	if r == nil {
		r = &record{}
		g.byIP[key] = r
	}
	if r.add(now, g.p) && !trusted {
		blocked = true
	}
	if trusted {
		r.blockedUntil = time.Time{}
	}
	if login != "" {
		pk := pair{key, login}
		pr := g.byPair[pk]
		if pr == nil {
			pr = &record{}
			g.byPair[pk] = pr
		}
		if pr.add(now, g.p) {
			blocked = true
		}
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

// Success forgets the failures of login from the address: its owner has
// shown the password. The address's failures, and those of other logins
// from it, stand until they age out.
func (g *AuthGuard) Success(ip netip.Addr, login string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	pk := pair{Prefix(ip), login}
	if r := g.byPair[pk]; r != nil && !g.now().Before(r.blockedUntil) {
		delete(g.byPair, pk)
	}
}

func (g *AuthGuard) sweepLocked(now time.Time) {
	for k, r := range g.byIP {
		r.prune(now, g.p.Window)
		if len(r.failures) == 0 && !now.Before(r.blockedUntil) {
			delete(g.byIP, k)
		}
	}
	for k, r := range g.byPair {
		r.prune(now, g.p.Window)
		if len(r.failures) == 0 && !now.Before(r.blockedUntil) {
			delete(g.byPair, k)
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
	if len(g.byIP)+len(g.byPair)+len(g.byUser) > maxTracked {
		g.byIP = map[netip.Addr]*record{}
		g.byPair = map[pair]*record{}
		g.byUser = map[string]*record{}
	}
}
