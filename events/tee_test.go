package events

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestTee(t *testing.T) {
	tests := []struct {
		name     string
		log      func(*slog.Logger)
		observed []string // message and qid of each record observed
		written  string   // what the warn-level handler below wrote
	}{
		{"info observed though next is quiet", func(l *slog.Logger) { l.Info(Accepted, QIDKey, "q1") }, []string{Accepted + " q1"}, ""},
		{"qid given before", func(l *slog.Logger) { l.With(QIDKey, "q2").Warn(Deferred) }, []string{Deferred + " q2"}, Deferred},
		{"debug not observed", func(l *slog.Logger) { l.Debug(Accepted, QIDKey, "q3") }, nil, ""},
		{"group not observed", func(l *slog.Logger) { l.WithGroup("g").Info(Accepted, QIDKey, "q4") }, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			var out bytes.Buffer
			next := slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn})
			tt.log(slog.New(Tee(next, func(r slog.Record, pre []slog.Attr) {
				qid := ""
				for _, a := range pre {
					if a.Key == QIDKey {
						qid = a.Value.String()
					}
				}
				r.Attrs(func(a slog.Attr) bool {
					if a.Key == QIDKey {
						qid = a.Value.String()
					}
					return true
				})
				got = append(got, r.Message+" "+qid)
			})))
			if strings.Join(got, ",") != strings.Join(tt.observed, ",") {
				t.Errorf("observed %q, want %q", got, tt.observed)
			}
			if tt.written == "" && out.Len() > 0 || !strings.Contains(out.String(), tt.written) {
				t.Errorf("next wrote %q, want %q", out.String(), tt.written)
			}
		})
	}
}

func TestTeeEvents(t *testing.T) {
	var got []Event
	log := slog.New(TeeEvents(slog.DiscardHandler, func(at time.Time, ev Event) {
		if at.IsZero() {
			t.Error("event without its time")
		}
		got = append(got, ev)
	}))
	log.With(QIDKey, "q1").Info(Accepted, UserKey, "app")
	log.Info("not an event")
	if len(got) != 1 {
		t.Fatalf("events %+v: want the one acceptance", got)
	}
	if a, ok := got[0].(Acceptance); !ok || a.QID != "q1" || a.User != "app" {
		t.Errorf("event %+v: want Acceptance of q1 by app", got[0])
	}
}
