package metrics

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"dkimrelay/events"
)

// TestReputationCounts: deliveries per provider (today's reset at midnight
// UTC), suppressions, blocks, pauses and duplicates, from their events.
func TestReputationCounts(t *testing.T) {
	now := time.Date(2026, 12, 3, 23, 59, 0, 0, time.UTC)
	m := New(Options{Now: func() time.Time { return now }, NoProcess: true})
	log := slog.New(m.Tee(slog.NewJSONHandler(io.Discard, nil)))
	deliver := func(mx string) { events.Delivery{QID: "Q", Rcpt: "a@x", MX: mx, Code: 250}.Log(log) }
	deliver("gmail-smtp-in.l.google.com")
	deliver("alt1.gmail-smtp-in.l.google.com")
	deliver("mx1.example.net")
	events.Suppression{QID: "Q2", Rcpt: "gone@x", Reason: "bounce"}.Log(log)
	events.Blocked{QID: "Q3", Rcpt: "a@y", MX: "MX.Example.COM", Code: 550, Reply: "blocked"}.Log(log)
	events.ProviderPause{Provider: "google", Until: now.Add(time.Minute)}.Log(log)
	events.Duplicate{QID: "Q1", User: "mastodon"}.Log(log)
	got := scrape(t, m.HTTPHandler(nil))
	for k, want := range map[string]float64{
		`dkimrelay_provider_delivered_total{provider="google"}`:    2,
		`dkimrelay_provider_delivered_total{provider="other"}`:     1,
		`dkimrelay_provider_delivered_today{provider="google"}`:    2,
		`dkimrelay_recipients_suppressed_total`:                    1,
		`dkimrelay_blocked_by_receiver_total{mx="mx.example.com"}`: 1,
		`dkimrelay_provider_pauses_total{provider="google"}`:       1,
		`dkimrelay_duplicates_total{user="mastodon"}`:              1,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	now = now.Add(2 * time.Minute) // the next UTC day
	deliver("gmail-smtp-in.l.google.com")
	got = scrape(t, m.HTTPHandler(nil))
	if got[`dkimrelay_provider_delivered_today{provider="google"}`] != 1 || got[`dkimrelay_provider_delivered_total{provider="google"}`] != 3 {
		t.Errorf("after midnight: today %v, total %v; want 1 and 3", got[`dkimrelay_provider_delivered_today{provider="google"}`], got[`dkimrelay_provider_delivered_total{provider="google"}`])
	}
	if _, ok := got[`dkimrelay_provider_delivered_today{provider="other"}`]; ok {
		t.Error("yesterday's count of other providers is still shown today")
	}
}
