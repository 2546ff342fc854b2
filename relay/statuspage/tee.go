package statuspage

import (
	"context"
	"log/slog"

	"dkimrelay/events"
)

// Tee returns a slog.Handler that counts the relay's message events in the
// history and passes every record on to next, as the metrics' Tee does:
// events of level Info and above are counted whatever next's level.
func (h *History) Tee(next slog.Handler) slog.Handler {
	return &tee{h: h, next: next}
}

type tee struct {
	h     *History
	next  slog.Handler
	attrs []slog.Attr // from WithAttrs, e.g. log.With("qid", id)
	group bool        // attributes are nested in a group: not ours to read
}

func (t *tee) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || t.next.Enabled(ctx, l)
}

func (t *tee) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelInfo && !t.group {
		t.h.observe(r, t.attrs)
	}
	if !t.next.Enabled(ctx, r.Level) {
		return nil
	}
	return t.next.Handle(ctx, r)
}

func (t *tee) WithAttrs(as []slog.Attr) slog.Handler {
	c := *t
	if !t.group {
		c.attrs = append(append([]slog.Attr(nil), t.attrs...), as...)
	}
	c.next = t.next.WithAttrs(as)
	return &c
}

func (t *tee) WithGroup(name string) slog.Handler {
	c := *t
	c.group = c.group || name != ""
	c.next = t.next.WithGroup(name)
	return &c
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
