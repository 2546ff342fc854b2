package dispatch

import (
	"bytes"

	"dkimrelay/events"
	"dkimrelay/relay/dsn"
	"dkimrelay/relay/queue"
)

// bounce queues one delivery status notification (RFC 3464) to m's
// envelope sender about the recipients that failed for good. It runs
// before the failures are recorded, while m is still queued to be quoted.
// A bounce is never sent for a null sender (RFC 5321 section 4.5.5), so
// bounces cannot loop.
func (d *Dispatcher) bounce(m *queue.Message, failed []queue.Change) error {
	if !dsn.ShouldBounce(m.Envelope.From) {
		return nil
	}
	b := &dsn.Bounce{
		ReportingMTA: d.cfg.Hostname,
		From:         "MAILER-DAEMON@" + d.cfg.Hostname,
		To:           m.Envelope.From,
		QID:          m.ID,
		Arrival:      m.Envelope.Received,
	}
	for _, f := range failed {
		b.Failures = append(b.Failures, dsn.Failure{
			Rcpt:      f.Addr,
			Status:    statusCode(f),
			Reply:     f.LastReply,
			RemoteMTA: f.Outcome.MX,
			Expired:   f.State == queue.Expired,
		})
	}
	var msg bytes.Buffer
	orig, err := d.cfg.Queue.OpenRaw(m.ID)
	if err == nil {
		err = b.WriteTo(&msg, orig)
		orig.Close()
	}
	if err == nil {
		err = d.cfg.Enqueue(m.ID, []string{m.Envelope.From}, msg.Bytes())
	}
	if err != nil {
		events.BounceFailure{QID: m.ID, Err: err}.Log(d.log)
	}
	return err
}

// statusCode picks the RFC 3463 status for a failed recipient: 4.4.7
// (delivery time expired) for an expired message, else the status the
// delivery attempt reported (the remote's enhanced code when it gave one).
func statusCode(f queue.Change) string {
	switch {
	case f.State == queue.Expired:
		return "4.4.7"
	case f.Outcome.Enhanced != "":
		return f.Outcome.Enhanced
	}
	return "5.0.0"
}
