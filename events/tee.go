package events

import (
	"context"
	"log/slog"
	"time"
)

// Observer reads one record the relay logs at level Info or above, with
// the attributes given before it by log.With (pre), e.g. the qid.
type Observer func(r slog.Record, pre []slog.Attr)

// Tee returns a slog.Handler that shows every record of level Info and
// above to observe, whatever next's level, and passes each record on to
// next. A quiet log (log.level = "warn") so still feeds the metrics, the
// status page and the cluster's event table in full. Records whose
// attributes are nested in a group are not the relay's events and are
// not observed.
func Tee(next slog.Handler, observe Observer) slog.Handler {
	return &tee{observe: observe, next: next}
}

type tee struct {
	observe Observer
	next    slog.Handler
	attrs   []slog.Attr // from WithAttrs, e.g. log.With("qid", id)
	group   bool        // attributes are nested in a group: not ours to read
}

func (t *tee) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || t.next.Enabled(ctx, l)
}

func (t *tee) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelInfo && !t.group {
		t.observe(r, t.attrs)
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

// TeeEvents is Tee for the readers of the relay's typed events (the
// metrics, the status page): fn hears each event FromRecord reads back,
// with the time it was logged.
func TeeEvents(next slog.Handler, fn func(at time.Time, ev Event)) slog.Handler {
	return Tee(next, func(r slog.Record, pre []slog.Attr) {
		if ev, ok := FromRecord(r, pre); ok {
			fn(r.Time, ev)
		}
	})
}
