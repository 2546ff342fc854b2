package delivery

import (
	"context"
	"dkimrelay/events"
	"dkimrelay/relay/outcome"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ending says what to do with a session after transact.
type ending int

const (
	endClose ending = iota // the connection broke or is unusable: close it
	endQuit                // say QUIT (RFC 5321 section 4.1.1.10) and close
	endKeep                // a transaction completed: the session may carry the next one
	// endStale: a session taken from the pool was dead before MAIL FROM
	// was answered. Nothing reached the server; the caller closes it and
	// starts over on another session.
	endStale
)

// transact runs the mail transaction (RFC 5321 section 3.3) on a greeted
// session and returns the final result of every recipient, and what to do
// with the session (the caller ends or pools it). reused says the session
// comes from the pool, so that a dead one is reported as endStale rather
// than as a failed delivery.
//
//   - MAIL FROM refused: every recipient gets that reply (4xx Transient,
//     5xx Permanent).
//   - RCPT TO: each recipient its own reply; 2xx recipients go on.
//   - the reply to the final dot applies to every accepted recipient.
//   - a dropped connection or a timeout: Transient for everyone not yet
//     final. After the dot this may mean a duplicate on retry; delivery
//     is at-least-once, never at-most-once.
func (t *txn) transact(ctx context.Context, c *client, spec *sessionSpec, reused bool) ([]outcome.Outcome, ending) {
	m := t.msg
	host, where := spec.hop.host, spec.hop.where()
	tlsVer := tlsVersion(c.tls)
	policy := spec.policy
	if policy == PolicyOpportunistic && c.tls == nil {
		policy = PolicyNone
	}
	results := make([]outcome.Outcome, len(t.rcpts))
	final := make([]bool, len(t.rcpts))
	set := func(i int, o outcome.Outcome) {
		o.MX, o.TLS, o.TLSPolicy = host, tlsVer, policy
		o.Rcpt = t.rcpts[i]
		results[i], final[i] = o, true
	}
	setPending := func(o outcome.Outcome) []outcome.Outcome {
		for i := range t.rcpts {
			if !final[i] {
				set(i, o)
			}
		}
		return results
	}
	broken := func(stage string, err error) ([]outcome.Outcome, ending) {
		return setPending(lost(ctx, where, stage, err)), endClose
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
			set(i, outcome.Local(outcome.Permanent, "5.6.7", "recipient address needs SMTPUTF8, which "+host+" does not support"))
		}
	}
	if !isASCII(m.From) && !smtputf8 {
		setPending(outcome.Local(outcome.Permanent, "5.6.7", "sender address needs SMTPUTF8, which "+host+" does not support"))
	}
	// SIZE (RFC 1870 section 4): a server that states its limit is
	// spared a transfer it would refuse.
	if limit, err := strconv.ParseInt(c.ext["SIZE"], 10, 64); err == nil && limit > 0 && m.Size > limit {
		setPending(outcome.Local(outcome.Permanent, "5.3.4",
			fmt.Sprintf("message of %d bytes exceeds the %d-byte limit of %s", m.Size, limit, host)))
	}
	// RFC 8689 section 4.2.1: the server must offer REQUIRETLS too.
	if spec.requireTLS && !c.has("REQUIRETLS") {
		setPending(*requireTLSFailure(host, spec.policy, where+" does not offer REQUIRETLS"))
	}
	if !anyPending(final) {
		return results, endQuit
	}

	rc, err := m.Open()
	if err != nil {
		return setPending(outcome.Local(outcome.Transient, "4.3.0", "cannot read the queued message: "+err.Error())), endQuit
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
	if spec.requireTLS {
		params.WriteString(" REQUIRETLS") // RFC 8689 section 4.1
	}
	// PIPELINING (RFC 2920 section 3.1): MAIL, the RCPTs and DATA leave
	// in one write and their replies are read in order, one round trip
	// instead of two plus one per recipient.
	pipeline := c.has("PIPELINING")
	timeout := t.d.cfg.CommandTimeout
	var sent []int // recipients whose RCPT went out with the group
	err = c.queue("MAIL FROM:<%s>%s", m.From, params.String())
	if err == nil && pipeline {
		for i, rcpt := range t.rcpts {
			if !final[i] {
				sent = append(sent, i)
				if err = c.queue("RCPT TO:<%s>", rcpt); err != nil {
					break
				}
			}
		}
		if err == nil {
			err = c.queue("DATA")
		}
	}
	var rep *reply
	if err == nil {
		err = c.flush()
	}
	if err == nil {
		rep, err = c.readReply(timeout)
	}
	// A pooled session the server closed meanwhile fails here, or says
	// 421 (RFC 5321 section 3.8: a server closing an idle session may
	// answer every command with 421). Nothing was accepted yet.
	if reused && ctx.Err() == nil && (err != nil || rep.Code == 421) {
		return nil, endStale
	}
	if err != nil {
		return broken("in reply to MAIL FROM", err)
	}
	if !rep.positive() {
		mailRep := rep
		if pipeline {
			// The RCPTs and DATA still get their (negative) replies;
			// read them so they are not taken for later ones.
			if _, err := t.drain(c, len(sent)+1); err != nil {
				return setPending(remote(host, mailRep)), endClose
			}
		}
		return setPending(remote(host, mailRep)), endQuit
	}

	var accepted []int
	for i, rcpt := range t.rcpts {
		if final[i] {
			continue
		}
		if pipeline {
			rep, err = c.readReply(timeout)
		} else {
			rep, err = c.cmd(timeout, "RCPT TO:<%s>", rcpt)
		}
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
		if pipeline {
			// DATA went out anyway. A server should refuse it with no
			// recipient (RFC 2920 section 3.1); one that says 354 gets
			// an empty message, which it must not deliver.
			if rep, err := c.readReply(timeout); err != nil || (rep.Code == 354 && t.emptyBody(c) != nil) {
				return results, endClose
			}
		}
		return results, endQuit
	}

	src := &trackedReader{r: rc}
	sentBody := false
	if pipeline {
		rep, err = c.readReply(timeout)
		if err == nil && rep.Code == 354 {
			sentBody = true
			rep, err = c.body(src, t.d.cfg.DataTimeout)
		}
	} else {
		rep, sentBody, err = c.data(src, t.d.cfg.DataTimeout)
	}
	switch {
	case src.err != nil:
		// Our own copy failed: the final dot was not sent, closing the
		// connection makes the server drop the partial message.
		return setPending(outcome.Local(outcome.Transient, "4.3.0", "reading the queued message failed: "+src.err.Error())), endClose
	case err != nil && !sentBody:
		return broken("while sending the message", err)
	case err != nil:
		return broken("waiting for the reply to the end of the message", err)
	}
	o := remote(host, rep)
	for _, i := range accepted {
		set(i, o)
	}
	events.Transaction{MX: host, Reply: rep.String(), TLS: tlsVer, Reused: reused}.Log(t.log)
	if rep.Code == 421 {
		return results, endClose // the server is closing the session
	}
	// After the reply to the final dot both ends are back in the initial
	// state (RFC 5321 section 4.1.1.4): the session can carry another
	// transaction.
	return results, endKeep
}

// finish ends a session after transact, or pools it under key.
func (t *txn) finish(key string, c *client, born time.Time, e ending) {
	switch e {
	case endKeep:
		t.d.pool.put(key, c, born)
	case endQuit:
		c.quit()
	default:
		c.close()
	}
}

// reuse runs the transaction on an idle session for key from the pool. It
// returns nil when no live session was there: the caller then connects.
func (t *txn) reuse(ctx context.Context, key string, spec *sessionSpec) []outcome.Outcome {
	for {
		c, born := t.d.pool.get(key)
		if c == nil {
			return nil
		}
		stop := context.AfterFunc(ctx, func() { c.close() })
		results, e := t.transact(ctx, c, spec, true)
		if !stop() {
			e = endClose // ctx ended and closed the connection
		}
		if e == endStale {
			events.PooledSessionClosed{MX: spec.hop.host}.Log(t.log)
			c.close()
			continue
		}
		t.finish(key, c, born, e)
		return results
	}
}

// drain reads n replies of pipelined commands whose outcome no longer
// matters, ending a DATA the server took with an empty message.
func (t *txn) drain(c *client, n int) (*reply, error) {
	var rep *reply
	var err error
	for range n {
		if rep, err = c.readReply(t.d.cfg.CommandTimeout); err != nil {
			return nil, err
		}
	}
	if rep != nil && rep.Code == 354 {
		return rep, t.emptyBody(c)
	}
	return rep, nil
}

// emptyBody ends a DATA that should not have been accepted with an empty
// message and reads the reply.
func (t *txn) emptyBody(c *client) error {
	_, err := c.body(strings.NewReader(""), t.d.cfg.DataTimeout)
	return err
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
