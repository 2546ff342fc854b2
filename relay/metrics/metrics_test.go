package metrics

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"dkimrelay/events"
)

// scrape fetches /metrics and returns each sample by its exposed name
// and labels, e.g. `dkimrelay_recipients_total{outcome="delivered"}`.
func scrape(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

func TestCountsFromEvents(t *testing.T) {
	now := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	m := New(Options{
		Now:   func() time.Time { return now },
		Queue: func() (int, time.Time) { return 3, now.Add(-90 * time.Second) },
		Keys: func() []Key {
			return []Key{
				{Domain: "example.org", Selector: "s1", Algorithm: "rsa2048", State: "active", Created: now.Add(-48 * time.Hour)},
				{Domain: "example.org", Selector: "s2", Algorithm: "ed25519", State: "pending", Created: now.Add(-time.Hour)},
			}
		},
		NoProcess: true,
	})
	// A quiet log: the Info events must still be counted, and must not
	// be written.
	var logged bytes.Buffer
	log := slog.New(m.Tee(slog.NewJSONHandler(&logged, &slog.HandlerOptions{Level: slog.LevelWarn})))

	next := now.Add(time.Minute)
	for _, e := range []events.Event{
		events.Connection{Remote: "127.0.0.1:1"},
		events.Connection{Remote: "127.0.0.1:2"},
		events.AuthAttempt{User: "app", Mechanism: "PLAIN", OK: true},
		events.AuthAttempt{User: "app", Mechanism: "LOGIN"},
		events.AuthAttempt{User: "x", Mechanism: "LOGIN"},
		events.SPFCheck{Domain: "example.org", IP: "192.0.2.1", Result: "pass"},
		events.Rejection{Code: 530, Reason: "Authentication required: log in with AUTH first"},
		events.Rejection{Code: 550, Reason: "Sender <a@example.org> is not allowed for login app"},
		events.Rejection{Code: 550, Reason: "SPF fail: 192.0.2.1 is not authorized to send for example.org; add ..."},
		events.Rejection{Level: slog.LevelError, Code: 452, Reason: "writing the queue: no space"},
		events.Acceptance{QID: "Q1", Rcpts: []string{"a@x", "b@x"}, Size: 100, DKIM: []string{"s1"}, SignTime: 1500 * time.Microsecond},
		events.Acceptance{QID: "Q2", SignTime: 3 * time.Millisecond},
		events.Acceptance{QID: "Q3", Kind: "bounce"},
		events.Delivery{QID: "Q1", Rcpt: "a@x", TLS: "TLS1.3", TLSPolicy: "mta-sts", Code: 250, Delay: 2 * time.Second},
		events.Delivery{QID: "Q1", Rcpt: "b@x", TLS: "none", Code: 250, Delay: 500 * time.Millisecond},
		events.Deferral{QID: "Q2", Rcpt: "c@y", NextAttempt: next},
		events.Deferral{QID: "Q2", Rcpt: "d@y", MX: "alt1.gmail-smtp-in.l.google.com", NextAttempt: next, TLSPolicy: "mta-sts",
			Reason: "mx.y[192.0.2.1] does not offer STARTTLS; refusing to send mail without TLS (required by the MTA-STS policy of y)"},
		events.Deferral{QID: "Q2", Rcpt: "c@y", NextAttempt: next.Add(2 * time.Minute)},
		events.Bounce{QID: "Q2", Rcpt: "c@y", MX: "mx.y", Code: 550, TLSPolicy: "required", Reason: "mx.y said: 550 5.1.1 no such user"},
		events.Expiry{QID: "Q2", Rcpt: "d@y"},
		events.Deletion{QID: "Q5"},
	} {
		e.Log(log)
	}
	// An spf event without a result (the note at start) is not counted.
	log.Info(events.SPF, events.DetailKey, "smarthost mode without delivery.egress_ips: SPF is not checked")
	events.Delivery{Rcpt: "z@x", TLS: "TLS1.2", Delay: time.Second}.Log(log.With(events.QIDKey, "Q3"))
	events.Delivery{QID: "Q4", Rcpt: "grouped@x"}.Log(log.WithGroup("smtp"))
	log.Warn("no_active_key", "domain", "example.com")

	got := scrape(t, m.HTTPHandler(nil))
	want := map[string]float64{
		`dkimrelay_connections_total`:                                                                            2,
		`dkimrelay_auth_attempts_total{mechanism="PLAIN",result="ok"}`:                                           1,
		`dkimrelay_auth_attempts_total{mechanism="LOGIN",result="failed"}`:                                       2,
		`dkimrelay_auth_failures_total{mechanism="LOGIN"}`:                                                       2,
		`dkimrelay_spf_results_total{result="pass"}`:                                                             1,
		`dkimrelay_messages_rejected_total{reason="auth_required"}`:                                              1,
		`dkimrelay_messages_rejected_total{reason="sender"}`:                                                     1,
		`dkimrelay_messages_rejected_total{reason="spf"}`:                                                        1,
		`dkimrelay_messages_rejected_total{reason="local_error"}`:                                                1,
		`dkimrelay_messages_accepted_total{kind="submission"}`:                                                   2,
		`dkimrelay_messages_accepted_total{kind="bounce"}`:                                                       1,
		`dkimrelay_dkim_signing_seconds_count`:                                                                   2,
		`dkimrelay_dkim_signing_seconds_sum`:                                                                     0.0045,
		`dkimrelay_recipients_total{outcome="delivered"}`:                                                        3,
		`dkimrelay_recipients_total{outcome="deferred"}`:                                                         3,
		`dkimrelay_recipients_total{outcome="bounced"}`:                                                          1,
		`dkimrelay_recipients_total{outcome="expired"}`:                                                          1,
		`dkimrelay_provider_deferred_total{provider="google"}`:                                                   1,
		`dkimrelay_provider_deferred_total{provider="other"}`:                                                    2, // no host answered, or not a big provider
		`dkimrelay_provider_bounced_total{provider="other"}`:                                                     1,
		`dkimrelay_messages_delivered_total`:                                                                     2, // Q1 once, Q3
		`dkimrelay_messages_deferred_total`:                                                                      2, // two attempts of Q2
		`dkimrelay_messages_bounced_total`:                                                                       1,
		`dkimrelay_messages_deleted_total`:                                                                       1,
		`dkimrelay_delivery_tls_total{version="TLS1.3"}`:                                                         1,
		`dkimrelay_delivery_tls_total{version="TLS1.2"}`:                                                         1,
		`dkimrelay_delivery_tls_total{version="none"}`:                                                           1,
		`dkimrelay_delivery_tls_policy_total{policy="mta-sts"}`:                                                  1,
		`dkimrelay_delivery_tls_policy_total{policy="none"}`:                                                     2,
		`dkimrelay_delivery_tls_failures_total{failure="starttls",policy="mta-sts"}`:                             1,
		`dkimrelay_delivery_delay_seconds_count`:                                                                 3,
		`dkimrelay_delivery_delay_seconds_sum`:                                                                   3.5,
		`dkimrelay_delivery_delay_seconds_bucket{le="1"}`:                                                        2,
		`dkimrelay_queue_messages`:                                                                               3,
		`dkimrelay_queue_oldest_message_age_seconds`:                                                             90,
		`dkimrelay_dkim_key_age_seconds{algorithm="rsa2048",domain="example.org",selector="s1",state="active"}`:  48 * 3600,
		`dkimrelay_dkim_key_age_seconds{algorithm="ed25519",domain="example.org",selector="s2",state="pending"}`: 3600,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || math.Abs(g-v) > 1e-9 {
			t.Errorf("%s = %v (present: %v), want %v", k, g, ok, v)
		}
	}
	if _, ok := got[`dkimrelay_spf_results_total{result=""}`]; ok {
		t.Error("an spf event without a result was counted")
	}
	// Only the Warn and Error events reached the quiet log.
	if n := strings.Count(logged.String(), "\n"); n != 2 || !strings.Contains(logged.String(), "no_active_key") {
		t.Errorf("the log at level warn got %d lines:\n%s", n, logged.String())
	}
}

func TestHealthAndReadiness(t *testing.T) {
	m := New(Options{NoProcess: true})
	var problems []string
	h := m.HTTPHandler(func() []string { return problems })
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		b, _ := io.ReadAll(rec.Body)
		return rec.Code, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, body := get("/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz when ready = %d %q", code, body)
	}
	problems = []string{"no active DKIM key", "queue is not writable"}
	if code, body := get("/readyz"); code != 503 || body != "no active DKIM key\nqueue is not writable\n" {
		t.Errorf("/readyz when not ready = %d %q", code, body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz while not ready = %d; the process is up", code)
	}
}

func TestRejectClass(t *testing.T) {
	tests := []struct {
		code   int64
		reason string
		want   string
	}{
		{421, "too many connections", "connections"},
		{530, "Authentication required: log in with AUTH first", "auth_required"},
		{550, "A null sender (MAIL FROM:<>) is not accepted for submission", "sender"},
		{550, "From address <x@y> is not allowed for login app", "sender"},
		{550, "Domain example.com has no active DKIM key: run `dkimrelay keys list` and activate one", "no_key"},
		{550, "SPF fail: 192.0.2.1 is not authorized to send for example.org", "spf"},
		{451, "SPF check of example.org failed temporarily (timeout), try again later", "spf"},
		{550, "Message has no From header field", "from_header"},
		{550, "Message contains a bare LF: every line must end with CRLF", "malformed"},
		{550, "Malformed message header: no colon", "malformed"},
		{501, "Address <x> is not of the form local-part@domain", "syntax"},
		{552, "Message header too large", "size"},
		{451, "spooling: disk error", "local_error"},
		{452, "writing the queue: no space left", "local_error"},
		{554, "something new", "other"},
	}
	for _, tt := range tests {
		if got := RejectClass(tt.code, tt.reason); got != tt.want {
			t.Errorf("RejectClass(%d, %q) = %q, want %q", tt.code, tt.reason, got, tt.want)
		}
	}
}

func TestRecentSetForgetsOldest(t *testing.T) {
	s := newRecentSet(2)
	for _, step := range []struct {
		key string
		new bool
	}{{"a", true}, {"a", false}, {"b", true}, {"c", true}, {"b", false}, {"a", true}} {
		if got := s.add(step.key); got != step.new {
			t.Errorf("add(%q) = %v, want %v", step.key, got, step.new)
		}
	}
}

func TestTLSFailure(t *testing.T) {
	for reason, want := range map[string]string{
		"mx1.example.com[192.0.2.1] does not offer STARTTLS; refusing to send mail without TLS":       "starttls",
		"mx1.example.com[192.0.2.1] refused STARTTLS: 454 4.7.0 TLS not available":                    "starttls",
		"TLS handshake with mx1[192.0.2.1] failed: certificate name mismatch: valid for a, not for b": "certificate_name",
		"TLS handshake with mx1[192.0.2.1] failed: certificate expired or not yet valid: ...":         "certificate_expired",
		"TLS handshake with mx1[192.0.2.1] failed: certificate signed by an unknown authority (...)":  "certificate_untrusted",
		"TLS handshake with mx1[192.0.2.1] failed: TLSA mismatch: no TLSA record matches":             "tlsa_mismatch",
		"MX host mx9.example.com is not one the MTA-STS policy of example.com allows (mx: mx1)":       "mx_not_in_policy",
		"TLS handshake with mx1[192.0.2.1] failed: timed out":                                         "handshake",
		"mx1.example.com said: 550 5.1.1 no such user":                                                "",
		"cannot connect to mx1.example.com[192.0.2.1]:25: connection refused":                         "",
	} {
		if got := TLSFailure(reason); got != want {
			t.Errorf("TLSFailure(%q) = %q, want %q", reason, got, want)
		}
	}
}

// TestDMARCProblems: the dmarc events that found a problem are counted by
// result; aligned ones (logged at Debug) are not.
func TestDMARCProblems(t *testing.T) {
	m := New(Options{NoProcess: true})
	log := slog.New(m.Tee(slog.NewJSONHandler(io.Discard, nil)))
	for _, r := range []string{"misaligned", "misaligned", "none", "temperror", "aligned"} {
		events.DMARCCheck{Domain: "example.org", MailFromDomain: "example.org", Policy: "reject", Result: r}.Log(log)
	}
	got := scrape(t, m.HTTPHandler(nil))
	for k, v := range map[string]float64{
		`dkimrelay_dmarc_problems_total{result="misaligned"}`: 2,
		`dkimrelay_dmarc_problems_total{result="none"}`:       1,
		`dkimrelay_dmarc_problems_total{result="temperror"}`:  1,
	} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if _, ok := got[`dkimrelay_dmarc_problems_total{result="aligned"}`]; ok {
		t.Error("an aligned check was counted")
	}
}
