package submission

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"dkimrelay/events"
	"dkimrelay/relay/abuse"
)

func sprintf(format string, v ...any) string { return fmt.Sprintf(format, v...) }
func sprint(v ...any) string                 { return fmt.Sprint(v...) }

// connLimit counts open submission connections, in total and per client
// address (IPv6 by /64), across listeners.
type connLimit struct {
	mu    sync.Mutex
	max   int
	perIP int
	open  int
	byIP  map[netip.Addr]int
}

func newConnLimit(max, perIP int) *connLimit {
	return &connLimit{max: max, perIP: perIP, byIP: map[netip.Addr]int{}}
}

// acquire takes a slot for ip, or says which limit is full.
func (c *connLimit) acquire(ip netip.Addr) (ok bool, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open >= c.max {
		return false, "too many connections"
	}
	if c.byIP[ip] >= c.perIP {
		return false, "too many connections from your address"
	}
	c.open++
	c.byIP[ip]++
	return true, ""
}

func (c *connLimit) release(ip netip.Addr) {
	c.mu.Lock()
	c.open--
	if c.byIP[ip]--; c.byIP[ip] <= 0 {
		delete(c.byIP, ip)
	}
	c.mu.Unlock()
}

func addrOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			return ip.Unmap()
		}
	}
	return netip.Addr{}
}

// limitedListener enforces the connection limits and the AUTH block list,
// and logs each connection. A refused client on a plaintext listener gets
// "421 4.7.0" (RFC 5321 section 3.8) instead of a silent close, so it knows
// to retry later; on an implicit-TLS listener it is closed at once, since a
// reply would cost a TLS handshake. Either way the refusal is made in the
// accepting goroutine, with nothing left running for it: a flood of
// connections from a blocked address costs a write and a close each.
type limitedListener struct {
	net.Listener
	limit      *connLimit
	guard      *abuse.AuthGuard
	preAuth    time.Duration
	maxPreAuth int
	log        *slog.Logger
	refusals   *refusalLog // bounds the log lines of refusals, per address
	tlsConfig  *tls.Config // set on implicit-TLS listeners
	hostname   string
}

// refuseWriteTimeout bounds the write of a refusal: a reply of a hundred
// bytes to a new connection fits in its empty socket buffer at once, so
// only a broken peer ever waits this long.
const refuseWriteTimeout = 100 * time.Millisecond

func (l *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := abuse.Prefix(addrOf(c.RemoteAddr()))
		if blocked, until := l.guard.Blocked(ip); blocked {
			l.logRefusal(ip, events.Rejection{Level: slog.LevelWarn, Code: 421, Reason: "address blocked after repeated AUTH failures", Remote: c.RemoteAddr().String(), Until: until})
			l.refuse(c, "too many failed logins from your address, try again later")
			continue
		}
		if ok, reason := l.limit.acquire(ip); !ok {
			l.logRefusal(ip, events.Rejection{Level: slog.LevelWarn, Code: 421, Reason: reason, Remote: c.RemoteAddr().String()})
			l.refuse(c, reason+", try again later")
			continue
		}
		events.Connection{Remote: c.RemoteAddr().String(), Local: c.LocalAddr().String()}.Log(l.log)
		return &limitedConn{Conn: c, limit: l.limit, ip: ip, accepted: time.Now(), preAuth: l.preAuth, maxPreAuth: l.maxPreAuth,
			implicitTLS: l.tlsConfig != nil, hostname: l.hostname, log: l.log}, nil
	}
}

// logRefusal logs a refused connection unless its address has had its
// share of log lines this minute (see refusalLog).
func (l *limitedListener) logRefusal(ip netip.Addr, ev events.Rejection) {
	if l.refusals != nil {
		ok, skipped := l.refusals.note(ip, time.Now())
		if !ok {
			return
		}
		ev.Repeated = skipped
	}
	ev.Log(l.log)
}

// refuse answers 421 on a plaintext listener and closes the connection,
// without waiting on the client.
func (l *limitedListener) refuse(c net.Conn, text string) {
	if l.tlsConfig == nil {
		c.SetWriteDeadline(time.Now().Add(refuseWriteTimeout))
		fmt.Fprintf(c, "421 4.7.0 %s %s\r\n", l.hostname, text)
	}
	c.Close()
}

// limitedConn releases its slot on close, keeps read deadlines short until
// the client has authenticated, and can close itself right after the next
// reply is written (to end a session with a 421).
type limitedConn struct {
	net.Conn
	once  sync.Once
	limit *connLimit
	ip    netip.Addr
	log   *slog.Logger

	// Before AUTH succeeds: one fixed deadline, pre_auth_timeout from
	// accept, and a cap on the command lines read (see preauth.go).
	accepted     time.Time
	preAuth      time.Duration
	maxPreAuth   int
	preAuthLines int
	implicitTLS  bool
	hostname     string
	// top returns the connection the session speaks on now (TLS after
	// STARTTLS); set at EHLO, read only by the session's goroutine.
	top func() net.Conn

	authed     atomic.Bool
	closeAfter atomic.Bool
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { c.limit.release(c.ip) })
	return c.Conn.Close()
}

func (c *limitedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if c.closeAfter.Load() {
		c.Close()
	}
	return n, err
}

// connOf finds the limitedConn under a session's connection, TLS or not.
func connOf(c net.Conn) *limitedConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	lc, _ := c.(*limitedConn)
	return lc
}
