package dispatch

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"dkimrelay/config"
	"dkimrelay/internal/testkit"
	"dkimrelay/relay/delivery"
	"dkimrelay/relay/outcome"
	"dkimrelay/relay/queue"
)

// fixed is a Deliverer that answers each recipient with a set outcome, or
// with block, waits for the attempt's context to end.
type fixed struct {
	by    map[string]outcome.Outcome
	block bool
	began chan struct{}
}

func (f *fixed) Deliver(ctx context.Context, m delivery.Message) []outcome.Outcome {
	if f.began != nil {
		f.began <- struct{}{}
	}
	if f.block {
		<-ctx.Done()
		return outcome.Local(outcome.Transient, "4.4.7", "delivery interrupted: "+context.Cause(ctx).Error()).For(m.Rcpts)
	}
	out := make([]outcome.Outcome, len(m.Rcpts))
	for i, r := range m.Rcpts {
		out[i] = f.by[r]
		out[i].Rcpt = r
	}
	return out
}

const original = "From: app@example.org\r\nTo: x@example.net\r\nSubject: the original\r\nMessage-ID: <1@example.org>\r\n\r\nHello.\r\n"

// setup is a queue holding one message from from to rcpts, and a
// Dispatcher over it whose bounces are collected (or refused with
// enqueueErr).
func setup(t *testing.T, d Deliverer, from string, rcpts []string, enqueueErr error) (*Dispatcher, *queue.Queue, *testkit.Logs, *[][]byte, string) {
	t.Helper()
	q, err := queue.Open(queue.Options{Dir: t.TempDir(), Delivery: config.Defaults().Delivery})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	draft, err := q.NewDraft()
	if err != nil {
		t.Fatal(err)
	}
	draft.Write([]byte(original))
	if err := draft.Commit(queue.Envelope{From: from, Rcpts: rcpts}); err != nil {
		t.Fatal(err)
	}
	logs := testkit.NewLogs(t)
	var bounces [][]byte
	sec := config.Defaults().Delivery
	sec.Workers = 1
	disp, err := New(Config{
		Delivery: sec,
		Queue:    q,
		Deliver:  d,
		Hostname: "relay.example.net",
		Enqueue: func(origQID string, to []string, msg []byte) error {
			if enqueueErr != nil {
				return enqueueErr
			}
			// The bounce is made while the original is still queued.
			if _, err := q.Get(origQID); err != nil {
				t.Errorf("bounce queued after the original left the queue: %v", err)
			}
			if len(to) != 1 || to[0] != from {
				t.Errorf("bounce to %v, want %s", to, from)
			}
			bounces = append(bounces, msg)
			return nil
		},
		Logger: logs.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return disp, q, logs, &bounces, draft.ID()
}

func next(t *testing.T, q *queue.Queue) *queue.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := q.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// byName indexes the recipients' events by name and recipient.
func byName(logs *testkit.Logs) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, name := range []string{"delivered", "deferred", "bounced", "expired"} {
		for _, ev := range logs.Events(name) {
			out[name+" "+ev["rcpt"].(string)] = ev
		}
	}
	return out
}

// One attempt, three outcomes: each recipient's event comes from its new
// state, with the outcome's details, and the permanent failure is bounced
// quoting the original.
func TestAttemptLogsEachNewState(t *testing.T) {
	d := &fixed{by: map[string]outcome.Outcome{
		"ok@a.example":    {Status: outcome.Delivered, Code: 250, MX: "mx.a.example", TLS: "TLS1.3", Reply: "mx.a.example said: 250 ok"},
		"no@b.example":    {Status: outcome.Permanent, Code: 550, Enhanced: "5.1.1", MX: "mx.b.example", Reply: "mx.b.example said: 550 5.1.1 no such user"},
		"later@c.example": {Status: outcome.Transient, Code: 451, Enhanced: "4.7.1", MX: "mx.c.example", Reply: "mx.c.example said: 451 4.7.1 greylisted"},
	}}
	disp, q, logs, bounces, id := setup(t, d, "app@example.org", []string{"ok@a.example", "no@b.example", "later@c.example"}, nil)
	disp.attempt(context.Background(), next(t, q))

	evs := byName(logs)
	if ev := evs["delivered ok@a.example"]; ev == nil || ev["mx"] != "mx.a.example" || ev["tls"] != "TLS1.3" || ev["code"] != 250.0 || ev["qid"] != id {
		t.Errorf("delivered event: %v", ev)
	}
	if ev := evs["bounced no@b.example"]; ev == nil || ev["code"] != 550.0 || !strings.Contains(ev["reason"].(string), "no such user") {
		t.Errorf("bounced event: %v", ev)
	}
	ev := evs["deferred later@c.example"]
	if ev == nil || ev["code"] != 451.0 || !strings.Contains(ev["reason"].(string), "greylisted") {
		t.Fatalf("deferred event: %v", ev)
	}
	m, err := q.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range m.Rcpts {
		if r.Addr == "later@c.example" && (r.State != queue.Deferred || ev["next_attempt"] != r.NextAttempt.UTC().Format(time.RFC3339)) {
			t.Errorf("deferred recipient %+v, event next_attempt %v", r, ev["next_attempt"])
		}
	}
	if len(evs) != 3 {
		t.Errorf("events: %v, want one per recipient", evs)
	}
	if len(*bounces) != 1 {
		t.Fatalf("%d bounces, want 1", len(*bounces))
	}
	b := string((*bounces)[0])
	for _, want := range []string{"Final-Recipient: rfc822; no@b.example", "Status: 5.1.1", "Remote-MTA: dns; mx.b.example", "Subject: the original"} {
		if !strings.Contains(b, want) {
			t.Errorf("the bounce lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(b, "later@c.example") || strings.Contains(b, "ok@a.example") {
		t.Errorf("the bounce names a recipient that did not fail:\n%s", b)
	}
}

// A bounce that cannot be queued leaves its recipient deferred, logged so,
// never bounced without a bounce.
func TestBounceFailureDefers(t *testing.T) {
	d := &fixed{by: map[string]outcome.Outcome{"no@b.example": {Status: outcome.Permanent, Code: 550, Reply: "550 no such user"}}}
	disp, q, logs, _, id := setup(t, d, "app@example.org", []string{"no@b.example"}, errors.New("disk full"))
	disp.attempt(context.Background(), next(t, q))
	if len(logs.Events("bounced")) != 0 || len(logs.Events("deferred")) != 1 || len(logs.Events("bounce_failed")) != 1 {
		t.Errorf("events %s, want one deferred and one bounce_failed, no bounced", logs)
	}
	if m, err := q.Get(id); err != nil || m.Rcpts[0].State != queue.Deferred {
		t.Errorf("after the failed bounce: %+v %v, want the recipient deferred", m, err)
	}
}

// Mail from the null sender (a bounce) is never bounced.
func TestNoBounceOfABounce(t *testing.T) {
	d := &fixed{by: map[string]outcome.Outcome{"app@example.org": {Status: outcome.Permanent, Code: 550, Reply: "550 no"}}}
	disp, q, logs, bounces, _ := setup(t, d, "", []string{"app@example.org"}, nil)
	disp.attempt(context.Background(), next(t, q))
	if len(*bounces) != 0 {
		t.Errorf("a bounce of a bounce was queued")
	}
	if evs := byName(logs); evs["bounced app@example.org"] == nil || q.Len() != 0 {
		t.Errorf("events %v, queue %d: want it bounced (without a notice) and gone", evs, q.Len())
	}
}

// At a stop an attempt in flight has ShutdownTimeout, then is cut: its
// recipient stays queued, deferred, with ErrShutdown as the reason.
func TestRunCutsAttemptsAtShutdown(t *testing.T) {
	d := &fixed{block: true, began: make(chan struct{}, 1)}
	disp, q, logs, _, id := setup(t, d, "app@example.org", []string{"x@stalled.example"}, nil)
	disp.cfg.ShutdownTimeout = 200 * time.Millisecond
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		disp.Run(ctx)
		close(done)
	}()
	<-d.began
	start := time.Now()
	stop()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the shutdown timeout")
	}
	if took := time.Since(start); took < 150*time.Millisecond {
		t.Errorf("the attempt was cut after %v, before the shutdown timeout", took)
	}
	m, err := q.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if r := m.Rcpts[0]; r.State != queue.Deferred || !strings.Contains(r.LastReply, ErrShutdown.Error()) {
		t.Errorf("recipient after the stop: %+v", r)
	}
	if evs := byName(logs); evs["deferred x@stalled.example"] == nil {
		t.Errorf("no deferred event: %v", evs)
	}
}

// The last recipient's permanent failure: the bounce is queued while the
// message is still there to quote (setup's Enqueue checks), then the
// message leaves the queue.
func TestBounceBeforeRemoval(t *testing.T) {
	d := &fixed{by: map[string]outcome.Outcome{"no@b.example": {Status: outcome.Permanent, Code: 550, Reply: "550 no such user"}}}
	disp, q, _, bounces, id := setup(t, d, "app@example.org", []string{"no@b.example"}, nil)
	disp.attempt(context.Background(), next(t, q))
	if len(*bounces) != 1 || !strings.Contains(string((*bounces)[0]), "Subject: the original") {
		t.Errorf("bounces: %q, want one quoting the original", *bounces)
	}
	if _, err := q.Get(id); !errors.Is(err, queue.ErrNotFound) || q.Len() != 0 {
		t.Errorf("after the bounce the message is still queued: %v, %d", err, q.Len())
	}
}

// TestNewNeedsSection: the workers and the shutdown timeout come from the
// loaded [delivery] section; the dispatcher has no defaults of its own.
func TestNewNeedsSection(t *testing.T) {
	if _, err := New(Config{}); err == nil || !strings.Contains(err.Error(), "[delivery]") {
		t.Errorf("New without a section: %v", err)
	}
	if _, err := New(Config{Delivery: config.Defaults().Delivery}); err != nil {
		t.Errorf("New with the default section: %v", err)
	}
}
