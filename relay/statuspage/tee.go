package statuspage

import (
	"log/slog"

	"dkimrelay/events"
)

// Tee returns a slog.Handler that counts the relay's message events in the
// history and passes every record on to next, as the metrics' Tee does:
// events of level Info and above are counted whatever next's level.
func (h *History) Tee(next slog.Handler) slog.Handler {
	return events.Tee(next, h.observe)
}

// observe counts one record, if it is a message's event.
func (h *History) observe(r slog.Record, pre []slog.Attr) {
	ev, ok := events.FromRecord(r, pre)
	if !ok {
		return
	}
	switch e := ev.(type) {
	case events.Acceptance:
		h.Add(r.Time, Accepted, "", "", "")
	case events.Delivery:
		h.Add(r.Time, Delivered, e.Rcpt, e.MX, e.TLSPolicy)
	case events.Deferral:
		h.Add(r.Time, Deferred, e.Rcpt, e.MX, "")
	case events.Bounce:
		h.Add(r.Time, Bounced, e.Rcpt, e.MX, "")
	case events.Expiry:
		h.Add(r.Time, Bounced, e.Rcpt, "", "")
	case events.Suppression:
		h.Add(r.Time, Suppressed, e.Rcpt, "", "")
	}
}
