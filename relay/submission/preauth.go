package submission

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"dkimrelay/events"
)

// SetReadDeadline is called by go-smtp before it reads each command line
// (and each line of a SASL exchange). Until AUTH succeeds it enforces the
// pre-AUTH limits: the deadline is fixed, pre_auth_timeout after accept,
// whatever the client sends (a NOOP now and then no longer keeps an
// unauthenticated connection, and its slot, alive), and at most
// max_pre_auth_commands lines are read. Past either, the client gets 421
// and the connection closes.
func (c *limitedConn) SetReadDeadline(t time.Time) error {
	if !c.authed.Load() && !t.IsZero() {
		c.preAuthLines++
		if c.maxPreAuth > 0 && c.preAuthLines > c.maxPreAuth {
			return c.refuseNow("Too many commands before AUTH, closing")
		}
		deadline := c.accepted.Add(c.preAuth)
		if !time.Now().Before(deadline) {
			return c.refuseNow("No AUTH within pre_auth_timeout of connecting, closing")
		}
		if t.After(deadline) {
			t = deadline
		}
	}
	return c.Conn.SetReadDeadline(t)
}

// refuseNow ends a session before go-smtp reads the next line: it writes
// 421 on the session's connection as it is now (inside TLS after
// STARTTLS; not at all on an implicit-TLS connection before its first
// EHLO), closes the connection and returns an error go-smtp takes for a
// closed connection, so it ends the session without another reply.
func (c *limitedConn) refuseNow(text string) error {
	var w io.Writer
	switch {
	case c.top != nil:
		w = c.top()
	case !c.implicitTLS:
		w = c.Conn
	}
	if w != nil {
		c.Conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(w, "421 4.7.0 %s %s\r\n", c.hostname, text)
	}
	if c.log != nil {
		events.Rejection{Level: slog.LevelWarn, Code: 421, Reason: text, Remote: c.RemoteAddr().String()}.Log(c.log)
	}
	c.Close()
	return fmt.Errorf("submission: %s: %w", text, net.ErrClosed)
}
