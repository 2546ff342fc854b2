package delivery

import (
	"sync"
	"time"
)

// pool keeps SMTP sessions open after a completed transaction so the next
// message to the same next hop skips the TCP connect, the greeting, EHLO,
// STARTTLS and AUTH (RFC 5321 section 3.3 allows any number of
// transactions per session). Postfix does the same with its connection
// cache (smtp_connection_cache_time_limit, 2 s by default).
//
// A session is reused only after the server answered the final dot, when
// both ends are back in the initial state, and it is keyed by everything
// that shaped it: the host name (TLS SNI), the address and port. A pooled
// session may have been closed by the server meanwhile; the transaction
// that picks it up notices at MAIL FROM, before any message data is sent,
// and starts over on a new connection (see txn.reuse).
type pool struct {
	idle    time.Duration // close sessions unused this long
	maxAge  time.Duration // and sessions older than this, whatever their use
	maxIdle int           // idle sessions kept per key
	now     func() time.Time

	mu    sync.Mutex
	conns map[string][]*pooled // most recently used last
	timer *time.Timer          // sweeps expired sessions; nil when none idle
}

type pooled struct {
	c     *client
	born  time.Time // connected
	since time.Time // idle since
}

func newPool(idle, maxAge time.Duration, maxIdle int) *pool {
	return &pool{idle: idle, maxAge: maxAge, maxIdle: maxIdle, now: time.Now, conns: map[string][]*pooled{}}
}

// get returns an idle session for key, most recently used first, or nil.
func (p *pool) get(key string) (*client, time.Time) {
	if p == nil {
		return nil, time.Time{}
	}
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	list := p.conns[key]
	for len(list) > 0 {
		pc := list[len(list)-1]
		list = list[:len(list)-1]
		if p.expired(pc, now) {
			go pc.c.quit()
			continue
		}
		p.set(key, list)
		return pc.c, pc.born
	}
	p.set(key, list)
	return nil, time.Time{}
}

// put returns a session to the pool after a completed transaction; born is
// when it connected. A session past its age, or one too many, is ended.
func (p *pool) put(key string, c *client, born time.Time) {
	if p == nil {
		c.quit()
		return
	}
	now := p.now()
	pc := &pooled{c: c, born: born, since: now}
	p.mu.Lock()
	if p.expired(pc, now) || len(p.conns[key]) >= p.maxIdle {
		p.mu.Unlock()
		c.quit()
		return
	}
	p.conns[key] = append(p.conns[key], pc)
	if p.timer == nil {
		p.timer = time.AfterFunc(p.idle, p.sweep)
	}
	p.mu.Unlock()
}

func (p *pool) expired(pc *pooled, now time.Time) bool {
	return now.Sub(pc.since) >= p.idle || now.Sub(pc.born) >= p.maxAge
}

func (p *pool) set(key string, list []*pooled) {
	if len(list) == 0 {
		delete(p.conns, key)
	} else {
		p.conns[key] = list
	}
}

// sweep ends the sessions that expired and runs again while any is idle.
func (p *pool) sweep() {
	now := p.now()
	var stale []*client
	p.mu.Lock()
	for key, list := range p.conns {
		keep := list[:0]
		for _, pc := range list {
			if p.expired(pc, now) {
				stale = append(stale, pc.c)
			} else {
				keep = append(keep, pc)
			}
		}
		p.set(key, keep)
	}
	p.timer = nil
	if len(p.conns) > 0 {
		p.timer = time.AfterFunc(p.idle/2, p.sweep)
	}
	p.mu.Unlock()
	for _, c := range stale {
		c.quit()
	}
}

// closeAll ends every idle session (QUIT, RFC 5321 section 4.1.1.10).
func (p *pool) closeAll() {
	if p == nil {
		return
	}
	p.mu.Lock()
	all := p.conns
	p.conns = map[string][]*pooled{}
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, list := range all {
		for _, pc := range list {
			wg.Go(pc.c.quit)
		}
	}
	wg.Wait()
}
