package submission

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

func sprintf(format string, v ...any) string { return fmt.Sprintf(format, v...) }
func sprint(v ...any) string                 { return fmt.Sprint(v...) }

// connLimit counts open submission connections across listeners.
type connLimit struct {
	mu   sync.Mutex
	max  int
	open int
}

func newConnLimit(max int) *connLimit { return &connLimit{max: max} }

func (c *connLimit) acquire() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open >= c.max {
		return false
	}
	c.open++
	return true
}

func (c *connLimit) release() {
	c.mu.Lock()
	c.open--
	c.mu.Unlock()
}

// limitedListener enforces submission.max_connections and logs each
// connection. Over the cap, a client gets "421 4.7.0" (RFC 5321 section
// 3.8) instead of a silent close, so it knows to retry later.
type limitedListener struct {
	net.Listener
	limit     *connLimit
	log       *slog.Logger
	tlsConfig *tls.Config // set on implicit-TLS listeners
	hostname  string
}

func (l *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if !l.limit.acquire() {
			l.log.Warn("rejected", "code", 421, "reason", "too many connections", "remote", c.RemoteAddr().String())
			go l.refuse(c)
			continue
		}
		l.log.Info("connect", "remote", c.RemoteAddr().String(), "local", c.LocalAddr().String())
		return &limitedConn{Conn: c, limit: l.limit}, nil
	}
}

func (l *limitedListener) refuse(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if l.tlsConfig != nil {
		tc := tls.Server(c, l.tlsConfig)
		if tc.Handshake() != nil {
			return
		}
		c = tc
	}
	fmt.Fprintf(c, "421 4.7.0 %s too many connections, try again later\r\n", l.hostname)
}

type limitedConn struct {
	net.Conn
	once  sync.Once
	limit *connLimit
}

func (c *limitedConn) Close() error {
	c.once.Do(c.limit.release)
	return c.Conn.Close()
}
