package dispatch

import (
	"time"

	"dkimrelay/events"
	"dkimrelay/relay/queue"
)

// logChanges logs one event per recipient an attempt changed, from its new
// state: delivered, deferred, bounced or expired.
func (d *Dispatcher) logChanges(m *queue.Message, changes []queue.Change) {
	delay := time.Since(m.Envelope.Received)
	for _, c := range changes {
		o := c.Outcome
		switch c.State {
		case queue.Delivered:
			events.Delivery{QID: m.ID, Rcpt: c.Addr, MX: o.MX, TLS: o.TLS, TLSPolicy: o.TLSPolicy, Code: o.Code, Delay: delay, Reply: o.Reply}.Log(d.log)
		case queue.Deferred:
			events.Deferral{QID: m.ID, Rcpt: c.Addr, MX: o.MX, Code: o.Code, Reason: o.Reply, NextAttempt: c.NextAttempt, TLSPolicy: o.TLSPolicy}.Log(d.log)
		case queue.Bounced:
			events.Bounce{QID: m.ID, Rcpt: c.Addr, MX: o.MX, Code: o.Code, Reason: o.Reply, TLSPolicy: o.TLSPolicy}.Log(d.log)
		case queue.Expired:
			events.Expiry{QID: m.ID, Rcpt: c.Addr, Reason: o.Reply, Delay: delay}.Log(d.log)
		}
	}
}
