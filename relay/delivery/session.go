package delivery

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// transact runs the mail transaction (RFC 5321 section 3.3) on a greeted
// session and returns the final result of every recipient. It ends the
// session.
//
//   - MAIL FROM refused: every recipient gets that reply (4xx Transient,
//     5xx Permanent).
//   - RCPT TO: each recipient its own reply; 2xx recipients go on.
//   - the reply to the final dot applies to every accepted recipient.
//   - a dropped connection or a timeout: Transient for everyone not yet
//     final. After the dot this may mean a duplicate on retry; delivery
//     is at-least-once, never at-most-once.
func (t *txn) transact(ctx context.Context, c *client, host, where string) []Result {
	m := t.msg
	tlsVer := tlsVersion(c.tls)
	results := make([]Result, len(t.rcpts))
	final := make([]bool, len(t.rcpts))
	set := func(i int, o outcome) {
		o.MX, o.TLS = host, tlsVer
		results[i], final[i] = o.forRcpt(t.rcpts[i]), true
	}
	setPending := func(o outcome) []Result {
		for i := range t.rcpts {
			if !final[i] {
				set(i, o)
			}
		}
		return results
	}
	broken := func(stage string, err error) []Result {
		return setPending(lost(ctx, where, stage, err))
	}

	// SMTPUTF8 (RFC 6531 section 3.2): without it, non-ASCII addresses
	// cannot be sent at all. A UTF-8 header alone is sent anyway, as
	// Postfix does: most receivers take it.
	smtputf8 := c.has("SMTPUTF8")
	utf8Envelope := !isASCII(m.From)
	for i, r := range t.rcpts {
		if isASCII(r) {
			continue
		}
		utf8Envelope = true
		if !smtputf8 {
			set(i, local(Permanent, "5.6.7", "recipient address needs SMTPUTF8, which "+host+" does not support"))
		}
	}
	if !isASCII(m.From) && !smtputf8 {
		setPending(local(Permanent, "5.6.7", "sender address needs SMTPUTF8, which "+host+" does not support"))
	}
	// SIZE (RFC 1870 section 4): a server that states its limit is
	// spared a transfer it would refuse.
	if limit, err := strconv.ParseInt(c.ext["SIZE"], 10, 64); err == nil && limit > 0 && m.Size > limit {
		setPending(local(Permanent, "5.3.4",
			fmt.Sprintf("message of %d bytes exceeds the %d-byte limit of %s", m.Size, limit, host)))
	}
	if !anyPending(final) {
		c.quit()
		return results
	}

	rc, err := m.Open()
	if err != nil {
		c.quit()
		return setPending(local(Transient, "4.3.0", "cannot read the queued message: "+err.Error()))
	}
	defer rc.Close()

	var params strings.Builder
	if c.has("SIZE") && m.Size > 0 {
		fmt.Fprintf(&params, " SIZE=%d", m.Size)
	}
	if t.body.eightBit && c.has("8BITMIME") {
		params.WriteString(" BODY=8BITMIME") // RFC 6152 section 2
	}
	if (utf8Envelope || t.body.utf8Header) && smtputf8 {
		params.WriteString(" SMTPUTF8")
	}
	rep, err := c.cmd(t.d.cfg.CommandTimeout, "MAIL FROM:<%s>%s", m.From, params.String())
	if err != nil {
		return broken("in reply to MAIL FROM", err)
	}
	if !rep.positive() {
		c.quit()
		return setPending(remote(host, rep))
	}

	var accepted []int
	for i, rcpt := range t.rcpts {
		if final[i] {
			continue
		}
		rep, err := c.cmd(t.d.cfg.CommandTimeout, "RCPT TO:<%s>", rcpt)
		if err != nil {
			return broken("in reply to RCPT TO", err)
		}
		if rep.positive() {
			accepted = append(accepted, i)
			continue
		}
		set(i, remote(host, rep))
	}
	if len(accepted) == 0 {
		c.quit()
		return results
	}

	src := &trackedReader{r: rc}
	rep, sent, err := c.data(src, t.d.cfg.DataTimeout)
	switch {
	case src.err != nil:
		// Our own copy failed: the final dot was not sent, closing the
		// connection makes the server drop the partial message.
		c.close()
		return setPending(local(Transient, "4.3.0", "reading the queued message failed: "+src.err.Error()))
	case err != nil && !sent:
		return broken("while sending the message", err)
	case err != nil:
		return broken("waiting for the reply to the end of the message", err)
	}
	o := remote(host, rep)
	for _, i := range accepted {
		set(i, o)
	}
	t.log.Debug("transaction done", "mx", host, "reply", rep.String(), "tls", tlsVer)
	c.quit()
	return results
}

func anyPending(final []bool) bool {
	for _, f := range final {
		if !f {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// trackedReader remembers a read error so a failure of the local spool can
// be told apart from a failure of the network.
type trackedReader struct {
	r   io.Reader
	err error
}

func (t *trackedReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		t.err = err
	}
	return n, err
}
