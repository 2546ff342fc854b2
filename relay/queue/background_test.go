package queue

import (
	"context"
	"os"
	"testing"
	"time"

	"dkimrelay/internal/testkit"
)

// fillQueue commits n messages to a queue in dir, plus an unfinished
// draft (a .msg with no trailer) and a .json.tmp, and closes it.
func fillQueue(t *testing.T, dir string, n int) (ids []string, orphan string) {
	t.Helper()
	q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
	for i := range n {
		ids = append(ids, commit(t, q, body("m"+string(rune('a'+i%26))), Envelope{From: "a@example.org", Rcpts: []string{"b@example.net"}}))
	}
	d, err := q.NewDraft()
	if err != nil {
		t.Fatal(err)
	}
	d.Write(body("orphan"))
	orphan = d.ID()
	if err := os.WriteFile(q.path(ids[0]+".json.tmp"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	q.Close() // the draft is left as a crash would leave it
	return ids, orphan
}

// With LoadInBackground, Open returns before the envelopes are read; mail
// can be committed meanwhile, WaitLoaded says when every earlier message is
// scheduled, and recovery cleans up as a synchronous Open does.
func TestLoadInBackground(t *testing.T) {
	dir := queueDir(t)
	ids, orphan := fillQueue(t, dir, 300)
	logs := testkit.NewLogs(t)
	q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery, LoadInBackground: true, Logger: logs.Logger()})
	fresh := commit(t, q, body("new"), Envelope{From: "a@example.org", Rcpts: []string{"c@example.net"}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := q.WaitLoaded(ctx); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, m := range q.List() {
		have[m.ID] = true
	}
	if len(have) != len(ids)+1 || !have[fresh] {
		t.Fatalf("after loading: %d messages (the new one: %v), want %d and it", len(have), have[fresh], len(ids)+1)
	}
	for _, id := range ids {
		if !have[id] {
			t.Fatalf("message %s not loaded", id)
		}
	}
	if exists(q.path(orphan+".msg")) || exists(q.path(ids[0]+".json.tmp")) {
		t.Error("the unfinished draft or the .json.tmp was not removed")
	}
	if !exists(q.path(fresh + ".msg")) {
		t.Error("the message committed during the load lost its .msg")
	}
	if ev := logs.Events("queue_loaded"); len(ev) != 1 || ev[0]["messages"] != float64(len(ids)) {
		t.Errorf("queue_loaded events: %v", ev)
	}
}

// Closing during a background load loses nothing: what was not read stays
// on disk, and is not taken for unfinished drafts.
func TestCloseDuringBackgroundLoad(t *testing.T) {
	dir := queueDir(t)
	ids, _ := fillQueue(t, dir, 300)
	for range 5 {
		q, err := Open(Options{Dir: dir, Delivery: defaultDelivery, LoadInBackground: true})
		if err != nil {
			t.Fatal(err)
		}
		q.Close()
	}
	q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
	if got := len(q.List()); got != len(ids) {
		t.Fatalf("after closes during loads: %d messages, want %d", got, len(ids))
	}
	for _, id := range ids {
		if !exists(q.path(id + ".msg")) {
			t.Fatalf("message %s lost a file", id)
		}
	}
}

func TestWaitLoadedContext(t *testing.T) {
	q := &Queue{loaded: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := q.WaitLoaded(ctx); err == nil {
		t.Error("WaitLoaded returned nil while loading with a cancelled context")
	}
	close(q.loaded)
	if err := q.WaitLoaded(ctx); err != nil {
		t.Errorf("WaitLoaded after the load: %v", err)
	}
}
