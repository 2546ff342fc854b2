package submission

// go-smtp writes and flushes each line of a reply on its own: the 11
// lines of the EHLO reply were 11 TLS records and 11 system calls, and
// every one woke the client. limitedConn holds what is written until the
// session next reads (or closes), and sends it then in one write: SMTP is
// a dialogue, so a server only waits for the client once it has said all
// it had to say (RFC 5321 section 4.1; with PIPELINING, section 2 of RFC
// 2920, the replies to a group of commands go together as well).
//
// maxHeld bounds what is held: past it, the replies go at once.
const maxHeld = 16 << 10

// Write holds p until the next Read or Close, or sends it now when the
// session is to close after this reply or much is held already. An error
// of an earlier send is returned here.
func (c *limitedConn) Write(p []byte) (int, error) {
	c.outMu.Lock()
	if c.outErr != nil {
		err := c.outErr
		c.outMu.Unlock()
		return 0, err
	}
	c.out = append(c.out, p...)
	var err error
	if len(c.out) >= maxHeld || c.closeAfter.Load() {
		err = c.flushLocked()
	}
	c.outMu.Unlock()
	if c.closeAfter.Load() {
		c.Close()
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// Read sends what is held, then reads.
func (c *limitedConn) Read(p []byte) (int, error) {
	if err := c.flush(); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

// flushBeforeClose sends what is held, unless a send is under way
// already (stalled on a client that does not read, maybe): closing cuts
// that one short rather than waiting for its deadline.
func (c *limitedConn) flushBeforeClose() {
	if c.outMu.TryLock() {
		c.flushLocked()
		c.outMu.Unlock()
	}
}

// flush sends what is held.
func (c *limitedConn) flush() error {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	return c.flushLocked()
}

func (c *limitedConn) flushLocked() error {
	if len(c.out) == 0 || c.outErr != nil {
		return c.outErr
	}
	_, err := c.Conn.Write(c.out)
	if err != nil {
		c.outErr = err
	}
	c.out = c.out[:0]
	if cap(c.out) > maxHeld {
		c.out = nil // a long reply's buffer is not kept for the session
	}
	return err
}
