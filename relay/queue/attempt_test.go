package queue

import (
	"dkimrelay/relay/outcome"
	"errors"
	"slices"
	"strings"
	"testing"
)

// A bounce that cannot be queued must not lose the failure: the recipient
// stays queued, on disk, and is decided again on a later attempt.
func TestRecordBounceFailure(t *testing.T) {
	clock := newFakeClock()
	dir := queueDir(t)
	q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery, Now: clock.Now})
	id := commit(t, q, body("bounce"), Envelope{From: "app@example.org", Rcpts: []string{"no@b.example", "ok@a.example"}})

	m := nextNow(t, q)
	calls := 0
	var announced []Change
	changes, err := q.Record(m, []outcome.Outcome{
		{Rcpt: "no@b.example", Status: outcome.Permanent, Reply: "550 5.1.1 no such user"},
		{Rcpt: "ok@a.example", Status: outcome.Delivered},
	}, Steps{
		Bounce: func(failed []Change) error {
			calls++
			if len(failed) != 1 || failed[0].Addr != "no@b.example" {
				t.Errorf("bounce got %v", failed)
			}
			return errors.New("disk full")
		},
		Announce: func(c []Change) { announced = c },
	})
	if calls != 1 || err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("calls=%d err=%v", calls, err)
	}
	if !slices.Equal(announced, changes) {
		t.Errorf("announced %+v, recorded %+v: want the same states", announced, changes)
	}
	// The failure it could not bounce is reported deferred, not bounced.
	for _, c := range changes {
		if c.Addr == "no@b.example" && (c.State != Deferred || c.NextAttempt.IsZero()) {
			t.Errorf("after the failed bounce %s is %v, want deferred with a next attempt", c.Addr, c.State)
		}
	}
	q.Close()

	q = mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery, Now: clock.Now})
	got, err := q.Get(id)
	if err != nil {
		t.Fatalf("message lost after a failed bounce: %v", err)
	}
	for _, r := range got.Rcpts {
		want := Deferred
		if r.Addr == "ok@a.example" {
			want = Delivered
		}
		if r.State != want {
			t.Errorf("%s is %v, want %v", r.Addr, r.State, want)
		}
	}

	// The next attempt bounces for good; the original is still readable
	// while the bounce is made.
	clock.Advance(defaultDelivery.RetryMax)
	m = nextNow(t, q)
	_, err = q.Record(m, []outcome.Outcome{{Rcpt: "no@b.example", Status: outcome.Permanent, Reply: "550 5.1.1 no such user"}},
		Steps{Bounce: func(failed []Change) error {
			rc, err := q.OpenRaw(id)
			if err != nil {
				return err
			}
			rc.Close()
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if q.Len() != 0 {
		t.Errorf("queue still holds %d messages", q.Len())
	}
}
