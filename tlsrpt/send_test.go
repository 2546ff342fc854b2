package tlsrpt

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

// TestSend queues one report per policy domain that publishes a mailto:
// address, and says why the others got none.
func TestSend(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"reported.example", "silent.example", "broken.example"} {
		s.Record(Session{Domain: d, PolicyType: PolicyNone, MXHost: "mx." + d})
	}
	txt := map[string][]string{"_smtp._tls.reported.example": {"v=TLSRPTv1; rua=mailto:tls@reported.example"}}
	type queued struct {
		from string
		to   []string
		msg  string
	}
	var got []queued
	sender := &Sender{
		Store:    s,
		Hostname: "relay.example.com",
		From:     "tlsrpt@example.com",
		LookupTXT: func(_ context.Context, name string) ([]string, error) {
			if name == "_smtp._tls.broken.example" {
				return nil, errors.New("SERVFAIL")
			}
			return txt[name], nil
		},
		Queue: func(from string, to []string, msg []byte) (string, error) {
			got = append(got, queued{from, to, string(msg)})
			return "q1", nil
		},
		Log: slog.New(slog.DiscardHandler),
	}
	sent := sender.Send(context.Background())
	if len(sent) != 3 {
		t.Fatalf("sent %+v: want one line per domain", sent)
	}
	wantSkip := map[string]string{
		"broken.example":   "no mailto: address in a _smtp._tls.broken.example record (SERVFAIL)",
		"reported.example": "",
		"silent.example":   "no mailto: address in a _smtp._tls.silent.example record",
	}
	for _, s := range sent {
		if s.Skipped != wantSkip[s.Domain] || s.Sessions != 1 {
			t.Errorf("%s: %+v, want skipped %q and 1 session", s.Domain, s, wantSkip[s.Domain])
		}
		if s.Domain == "reported.example" && (s.QID != "q1" || !slices.Equal(s.To, []string{"tls@reported.example"})) {
			t.Errorf("reported.example: %+v, want queued as q1 to tls@reported.example", s)
		}
	}
	if len(got) != 1 || got[0].from != "tlsrpt@example.com" || !strings.Contains(got[0].msg, "reported.example") {
		t.Errorf("queued %+v: want one report for reported.example from tlsrpt@example.com", got)
	}
}
