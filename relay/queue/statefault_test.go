package queue

import (
	"errors"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"

	"dkimrelay/relay/outcome"
)

// TestStateChangeFaults injects a failure at each step of writing a
// message's new state (<qid>.json.tmp written, fsync'd, renamed, the
// folder fsync'd) and of removing it: Record reports it, the message stays
// on disk in a state it had (the one before, or for a failed folder fsync
// possibly the new one), nothing half-written is left, and after a
// restart it loads and is delivered.
func TestStateChangeFaults(t *testing.T) {
	enospc := syscall.ENOSPC
	tests := []struct {
		name   string
		op     string
		suffix string
		status outcome.Status // of the attempt whose recording fails
		// newState: the new state may have reached the disk.
		newState bool
	}{
		{"write of the new state", "write", ".json.tmp", outcome.Transient, false},
		{"fsync of the new state", "sync", ".json.tmp", outcome.Transient, false},
		{"folder fsync after the rename", "dirsync", "", outcome.Transient, true},
		{"folder fsync of a bounced message's removal", "dirsync", "", outcome.Permanent, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			dir := queueDir(t)
			q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery, Now: clock.Now})
			id := commit(t, q, body("state"), Envelope{From: "a@example.org", Rcpts: []string{"b@example.net"}})
			m := nextNow(t, q)
			q.SetFaultHook(func(op, p string) error {
				if op == tt.op && strings.HasSuffix(p, tt.suffix) {
					return &os.PathError{Op: op, Path: p, Err: enospc}
				}
				return nil
			})
			_, err := q.Record(m, []outcome.Outcome{{Rcpt: "b@example.net", Status: tt.status, Reply: "4xx or 5xx"}}, Steps{Bounce: func([]Change) error { return nil }})
			if !errors.Is(err, ErrNoSpace) {
				t.Fatalf("Record = %v, want ErrNoSpace", err)
			}
			q.SetFaultHook(nil)
			got := files(t, dir)
			switch {
			case !tt.newState && !slices.Equal(got, []string{id + ".msg"}):
				t.Errorf("files after the failed state change: %v, want the message file alone", got)
			case slices.ContainsFunc(got, func(f string) bool { return strings.HasSuffix(f, ".tmp") }):
				t.Errorf("a temporary file was left: %v", got)
			}
			q.Close()

			q = mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery, Now: clock.Now})
			if tt.status == outcome.Permanent {
				// Bounced (the bounce queued first) and removed; only
				// the removal's durability was in doubt.
				if _, err := q.Get(id); !errors.Is(err, ErrNotFound) || len(files(t, dir)) != 0 {
					t.Errorf("after restart: %v, files %v; want the bounced message gone", err, files(t, dir))
				}
				return
			}
			m2, err := q.Get(id)
			if err != nil {
				t.Fatalf("after restart: %v", err)
			}
			if r := m2.Rcpts[0]; !tt.newState && (r.State != Queued || r.Attempts != 0) {
				t.Errorf("after restart: %+v, want the state before the failed change", *r)
			}
			clock.Advance(defaultDelivery.RetryMax)
			m = nextNow(t, q)
			if _, err := q.Record(m, []outcome.Outcome{{Rcpt: "b@example.net", Status: outcome.Delivered}}, Steps{}); err != nil {
				t.Fatal(err)
			}
			if got := files(t, dir); len(got) != 0 {
				t.Errorf("files after delivery: %v", got)
			}
		})
	}
}
