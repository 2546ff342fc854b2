package queue

import (
	"errors"
	"strings"
	"testing"
)

// A bounce that cannot be queued must not lose the failure: the recipient
// stays queued, on disk, and is decided again on a later attempt.
func TestDoneThenBounceFailure(t *testing.T) {
	clock := newFakeClock()
	dir := queueDir(t)
	q := mustOpen(t, Options{Dir: dir, Now: clock.Now})
	id := commit(t, q, body("bounce"), Envelope{From: "app@example.org", Rcpts: []string{"no@b.example", "ok@a.example"}})

	m := nextNow(t, q)
	calls := 0
	_, _, err := q.DoneThen(m, []Outcome{
		{Rcpt: "no@b.example", Kind: Permanent, Reply: "550 5.1.1 no such user"},
		{Rcpt: "ok@a.example", Kind: Delivered},
	}, func(failed []*Recipient) error {
		calls++
		if len(failed) != 1 || failed[0].Addr != "no@b.example" {
			t.Errorf("bounce got %v", failed)
		}
		return errors.New("disk full")
	})
	if calls != 1 || err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("calls=%d err=%v", calls, err)
	}
	q.Close()

	q = mustOpen(t, Options{Dir: dir, Now: clock.Now})
	got, err := q.Get(id)
	if err != nil {
		t.Fatalf("message lost after a failed bounce: %v", err)
	}
	for _, r := range got.Rcpts {
		want := Queued
		if r.Addr == "ok@a.example" {
			want = Delivered
		}
		if r.State != want {
			t.Errorf("%s is %v, want %v", r.Addr, r.State, want)
		}
	}

	// The next attempt bounces for good; the original is still readable
	// while the bounce is made.
	clock.Advance(DefaultMaxRetry)
	m = nextNow(t, q)
	_, _, err = q.DoneThen(m, []Outcome{{Rcpt: "no@b.example", Kind: Permanent, Reply: "550 5.1.1 no such user"}},
		func(failed []*Recipient) error {
			rc, err := q.OpenRaw(id)
			if err != nil {
				return err
			}
			rc.Close()
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if q.Len() != 0 {
		t.Errorf("queue still holds %d messages", q.Len())
	}
}
