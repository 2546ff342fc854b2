package relay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"time"

	"dkimrelay/events"
	"dkimrelay/relay/delivery"
	"dkimrelay/relay/dsn"
	"dkimrelay/relay/ingest"
	"dkimrelay/relay/queue"
)

// worker takes due messages from the queue and attempts them until ctx
// ends. A message in flight when ctx ends is finished first (the attempt
// has its own timeouts), so its outcome is recorded rather than repeated.
func (r *Relay) worker(ctx context.Context) {
	defer r.workers.Done()
	for {
		m, err := r.queue.Next(ctx)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, queue.ErrClosed) {
				r.log.Error("queue", "error", err.Error())
			}
			return
		}
		r.attempt(m)
	}
}

// attempt delivers a message's due recipients once and records the result.
func (r *Relay) attempt(m *queue.Message) {
	now := time.Now()
	var due []string
	for _, rc := range m.Rcpts {
		if rc.State == queue.Queued && !rc.NextAttempt.After(now) {
			due = append(due, rc.Addr)
		}
	}
	results := r.deliver.Deliver(context.Background(), delivery.Message{
		ID:    m.ID,
		From:  m.Envelope.From,
		Rcpts: due,
		Open:  func() (io.ReadCloser, error) { return r.queue.Open(m) },
		Size:  m.Size,
	})
	outcomes := make([]queue.Outcome, len(results))
	for i, res := range results {
		kind := queue.Transient
		switch res.Status {
		case delivery.Delivered:
			kind = queue.Delivered
		case delivery.Permanent:
			kind = queue.Permanent
		}
		outcomes[i] = queue.Outcome{Rcpt: res.Rcpt, Kind: kind, Reply: res.Reply}
	}
	// Deliveries and permanent failures are logged before the queue
	// records them: a crash in between repeats the attempt (and the event)
	// rather than leave a delivered message without its event.
	delay := time.Since(m.Envelope.Received)
	for _, res := range results {
		switch res.Status {
		case delivery.Delivered:
			events.Delivery{QID: m.ID, Rcpt: res.Rcpt, MX: res.MX, TLS: res.TLS, Code: res.Code, Delay: delay, Reply: res.Reply}.Log(r.log)
		case delivery.Permanent:
			events.Bounce{QID: m.ID, Rcpt: res.Rcpt, MX: res.MX, Code: res.Code, Reason: res.Reply}.Log(r.log)
		}
	}
	failed, next, err := r.queue.DoneThen(m, outcomes, func(failed []*queue.Recipient) error {
		return r.bounce(m, failed, results)
	})
	if err != nil {
		// The attempt's result could not be recorded: the message stays
		// queued as it was and is tried again (at-least-once).
		r.log.Error("queue", "qid", m.ID, "error", err.Error())
	}
	final := map[string]*queue.Recipient{}
	for _, f := range failed {
		final[f.Addr] = f
	}
	for _, res := range results {
		switch {
		case res.Status == delivery.Delivered || res.Status == delivery.Permanent:
		case final[res.Rcpt] != nil && final[res.Rcpt].State == queue.Expired:
			events.Expiry{QID: m.ID, Rcpt: res.Rcpt, Reason: res.Reply, Delay: delay}.Log(r.log)
		default:
			events.Deferral{QID: m.ID, Rcpt: res.Rcpt, MX: res.MX, Code: res.Code, Reason: res.Reply, NextAttempt: next}.Log(r.log)
		}
	}
}

// bounce queues one delivery status notification (RFC 3464) to the
// envelope sender for the recipients that failed for good. A bounce is
// never sent for a null sender (RFC 5321 section 4.5.5), so bounces cannot
// loop.
func (r *Relay) bounce(m *queue.Message, failed []*queue.Recipient, results []delivery.Result) error {
	if !dsn.ShouldBounce(m.Envelope.From) {
		return nil
	}
	byRcpt := map[string]delivery.Result{}
	for _, res := range results {
		byRcpt[res.Rcpt] = res
	}
	b := &dsn.Bounce{
		ReportingMTA: r.cfg.Hostname,
		From:         "MAILER-DAEMON@" + r.cfg.Hostname,
		To:           m.Envelope.From,
		QID:          m.ID,
		Arrival:      m.Envelope.Received,
	}
	for _, f := range failed {
		res := byRcpt[f.Addr]
		b.Failures = append(b.Failures, dsn.Failure{
			Rcpt:      f.Addr,
			Status:    statusCode(res, f),
			Reply:     f.LastReply,
			RemoteMTA: res.MX,
			Expired:   f.State == queue.Expired,
		})
	}
	var msg bytes.Buffer
	orig, err := r.queue.OpenRaw(m.ID)
	if err == nil {
		err = b.WriteTo(&msg, orig)
		orig.Close()
	}
	if err == nil {
		err = r.enqueueBounce(m.ID, []string{m.Envelope.From}, msg.Bytes())
	}
	if err != nil {
		r.log.Error("bounce_failed", "qid", m.ID, "error", err.Error())
	}
	return err
}

// statusCode picks the RFC 3463 status for a failed recipient: 4.4.7
// (delivery time expired) for an expired message, else the status the
// delivery attempt reported (the remote's enhanced code when it gave one).
func statusCode(res delivery.Result, f *queue.Recipient) string {
	switch {
	case f.State == queue.Expired:
		return "4.4.7"
	case res.Enhanced != "":
		return res.Enhanced
	}
	return "5.0.0"
}

// enqueueBounce queues a bounce for message origQID, from the null sender
// (RFC 5321 section 4.5.5), signed for the relay's hostname when that is a
// domain with an active key.
func (r *Relay) enqueueBounce(origQID string, rcpts []string, msg []byte) error {
	_, err := r.ingest.Accept(ingest.Message{
		From:    "",
		Rcpts:   rcpts,
		Keys:    r.current.Load().Keys.Own(r.cfg.Hostname),
		Body:    bytes.NewReader(msg),
		Kind:    "bounce",
		OrigQID: origQID,
	})
	return err
}
