package statuspage

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"dkimrelay/events"
)

// TestHistoryFromEvents: the events the relay logs, through the Tee, land
// in their hour; hours older than 24 are forgotten; the window says since
// when it counts while the relay is younger than a day.
func TestHistoryFromEvents(t *testing.T) {
	start := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	h := NewHistory(start)
	log := slog.New(h.Tee(slog.DiscardHandler))
	at := func(d time.Duration, ev events.Event) {
		t.Helper()
		r := slog.NewRecord(start.Add(d), slog.LevelInfo, ev.Name(), 0)
		// The events log through their helpers; replay one with its
		// time set, as the handler sees it.
		var attrs []slog.Attr
		capture := slog.New(handlerFunc(func(rec slog.Record) {
			rec.Attrs(func(a slog.Attr) bool { attrs = append(attrs, a); return true })
		}))
		ev.Log(capture)
		r.AddAttrs(attrs...)
		if err := log.Handler().Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	at(0, events.Acceptance{QID: "Q1", From: "a@example.org", Rcpts: []string{"x@gmail.com", "y@example.net"}})
	at(time.Minute, events.Delivery{QID: "Q1", Rcpt: "x@gmail.com", MX: "gmail-smtp-in.l.google.com", TLSPolicy: "mta-sts", Code: 250})
	at(time.Minute, events.Deferral{QID: "Q1", Rcpt: "y@example.net", Reason: "451 try later", NextAttempt: start.Add(time.Hour)})
	at(2*time.Hour, events.Delivery{QID: "Q1", Rcpt: "Y@Example.NET", MX: "mx.example.net", Code: 250})
	at(2*time.Hour, events.Bounce{QID: "Q2", Rcpt: "z@example.net", Code: 550, Reason: "no such user"})
	at(3*time.Hour, events.Expiry{QID: "Q3", Rcpt: "w@example.com", Reason: "timeout"})
	at(3*time.Hour, events.Suppression{QID: "Q4", Rcpt: "z@example.net", Reason: "bounced before", Until: start.Add(720 * time.Hour)})
	// Not counted: another event, a debug record.
	log.Info(events.Connect)

	w := h.Window(start.Add(3 * time.Hour))
	if want := (Counts{1, 2, 1, 2, 1}); w.Totals != want {
		t.Errorf("totals %v, want %v", w.Totals, want)
	}
	if len(w.Hours) != 24 || !w.Hours[23].Start.Equal(time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("hours %d, last %v", len(w.Hours), w.Hours[len(w.Hours)-1].Start)
	}
	if got := w.Hours[20].Counts; got != (Counts{1, 1, 1, 0, 0}) {
		t.Errorf("09:00 hour %v", got)
	}
	if !w.Since.Equal(start) {
		t.Errorf("since %v, want the start", w.Since)
	}
	wantDest := map[string]Destination{
		"example.net": {Domain: "example.net", Provider: "example.net", Counts: Counts{0, 1, 1, 1, 1}},
		"gmail.com":   {Domain: "gmail.com", Provider: "google.com", Counts: Counts{0, 1, 0, 0, 0}},
		"example.com": {Domain: "example.com", Counts: Counts{0, 0, 0, 1, 0}},
	}
	if len(w.Destinations) != len(wantDest) || w.Destinations[0].Domain != "example.net" {
		t.Errorf("destinations %+v", w.Destinations)
	}
	for _, d := range w.Destinations {
		if d != wantDest[d.Domain] {
			t.Errorf("destination %+v, want %+v", d, wantDest[d.Domain])
		}
	}
	if want := []PolicyCount{{"mta-sts", 1}, {"none", 1}}; len(w.Policies) != 2 || w.Policies[0] != want[0] || w.Policies[1] != want[1] {
		t.Errorf("policies %v, want %v", w.Policies, want)
	}

	// A day later the first hours have left the window.
	w = h.Window(start.Add(25 * time.Hour))
	if want := (Counts{0, 1, 0, 2, 1}); w.Totals != want {
		t.Errorf("a day later: totals %v, want %v", w.Totals, want)
	}
	if !w.Since.IsZero() {
		t.Error("a day later the window still says since when it counts")
	}
	// An event in a bucket's new hour empties the old one.
	h.Add(start.Add(24*time.Hour), Accepted, "", "", "")
	if w = h.Window(start.Add(24 * time.Hour)); w.Totals != (Counts{1, 1, 0, 2, 1}) {
		t.Errorf("after reuse: %v", w.Totals)
	}
}

// TestDestinationsBounded: mail to more domains than an hour remembers is
// counted under one row.
func TestDestinationsBounded(t *testing.T) {
	now := time.Now()
	h := NewHistory(now)
	for i := range maxDestinations + 10 {
		h.Add(now, Delivered, "u@d"+string(rune('a'+i%26))+time.Duration(i).String()+".test", "", "")
	}
	w := h.Window(now)
	if len(w.Destinations) != maxDestinations+1 || w.Totals[Delivered] != maxDestinations+10 {
		t.Fatalf("%d destinations, %d delivered", len(w.Destinations), w.Totals[Delivered])
	}
	for _, d := range w.Destinations {
		if d.Domain == otherDestination && d.Counts[Delivered] != 10 {
			t.Errorf("other: %+v", d)
		}
	}
}

type handlerFunc func(slog.Record)

func (f handlerFunc) Enabled(context.Context, slog.Level) bool      { return true }
func (f handlerFunc) Handle(_ context.Context, r slog.Record) error { f(r); return nil }
func (f handlerFunc) WithAttrs([]slog.Attr) slog.Handler            { return f }
func (f handlerFunc) WithGroup(string) slog.Handler                 { return f }
