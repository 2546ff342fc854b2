package statuspage

import (
	"log/slog"
	"time"

	"dkimrelay/events"
)

// Tee returns a slog.Handler that counts the relay's message events in the
// history and passes every record on to next, as the metrics' Tee does:
// events of level Info and above are counted whatever next's level.
func (h *History) Tee(next slog.Handler) slog.Handler {
	return events.TeeEvents(next, h.observe)
}

// observe counts one record, if it is a message's event.
func (h *History) observe(at time.Time, ev events.Event) {
	switch e := ev.(type) {
	case events.Acceptance:
		h.Add(at, Accepted, "", "", "")
	case events.Delivery:
		h.Add(at, Delivered, e.Rcpt, e.MX, e.TLSPolicy)
	case events.Deferral:
		h.Add(at, Deferred, e.Rcpt, e.MX, "")
	case events.Bounce:
		h.Add(at, Bounced, e.Rcpt, e.MX, "")
	case events.Expiry:
		h.Add(at, Bounced, e.Rcpt, "", "")
	case events.Suppression:
		h.Add(at, Suppressed, e.Rcpt, "", "")
	}
}
