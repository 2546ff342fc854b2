package queue

import (
	"strings"
	"testing"
	"time"
)

// TestNextTransactionalFirst checks that a due transactional message is
// handed out before bulk messages queued earlier, and that the class
// survives a restart.
func TestNextTransactionalFirst(t *testing.T) {
	clock := newFakeClock()
	dir := queueDir(t)
	q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery, Now: clock.Now})
	var bulk []string
	for i := range 3 {
		bulk = append(bulk, commit(t, q, body("bulk"+string(rune('a'+i))), Envelope{Rcpts: []string{"b@example.net"}, Class: ClassBulk}))
		clock.Advance(time.Second)
	}
	tx := commit(t, q, body("reset"), Envelope{Rcpts: []string{"c@example.net"}})
	if m := nextNow(t, q); m.ID != tx || m.Envelope.TrafficClass() != ClassTransactional {
		t.Fatalf("first out: %s (%s), want the transactional %s", m.ID, m.Envelope.TrafficClass(), tx)
	}
	for _, want := range bulk {
		if m := nextNow(t, q); m.ID != want || m.Envelope.Class != ClassBulk {
			t.Fatalf("then %s (%q), want bulk %s in order", m.ID, m.Envelope.Class, want)
		}
	}
	q.Close()
	q = mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery, Now: clock.Now})
	if m, _ := q.Get(bulk[0]); m == nil || m.Envelope.TrafficClass() != ClassBulk {
		t.Errorf("after a restart %s is %+v, want bulk", bulk[0], m)
	}
}

// TestPostpone checks that held-back recipients wait until the time given,
// with the reason as their last reply and no attempt counted.
func TestPostpone(t *testing.T) {
	clock := newFakeClock()
	q := mustOpen(t, Options{Dir: queueDir(t), Delivery: defaultDelivery, Now: clock.Now})
	id := commit(t, q, body("paced"), Envelope{Rcpts: []string{"b@example.net"}, Class: ClassBulk})
	m := nextNow(t, q)
	until := clock.Now().Add(10 * time.Minute)
	if err := q.Postpone(m, []string{"b@example.net"}, until, "provider example.net paused"); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Record(m, nil, Steps{}); err != nil {
		t.Fatal(err)
	}
	got, _ := q.Get(id)
	r := got.Rcpts[0]
	if !r.NextAttempt.Equal(until) || r.Attempts != 0 || !strings.Contains(r.LastReply, "paused") || r.State != Queued {
		t.Errorf("recipient %+v, want queued until %v, no attempt, the reason as last reply", r, until)
	}
	if err := q.Postpone(got, nil, until, ""); err == nil {
		t.Error("Postpone of a message not in flight succeeded")
	}
}
