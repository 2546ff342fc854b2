package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dkimrelay/config"
	"dkimrelay/relay/queue"
)

// TestBigQueue runs the whole bench with a small queue against the real
// binaries (built by the bench) and checks that every figure is produced
// and every count matches.
func TestBigQueue(t *testing.T) {
	const n = 200
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // the bench's work folder goes here: checked empty at the end
	var progress bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := run(ctx, options{n: n, portBase: 0, size: 4096, timeout: 2 * time.Minute, progress: &progress})
	if err != nil {
		t.Fatalf("%v\nprogress:\n%s", err, progress.String())
	}
	counts := []struct {
		name      string
		got, want int
	}{
		{"queue_loaded, restart", res.First.Loaded, n},
		{"queue_loaded, second restart", res.Again.Loaded, n},
		{"queue list messages", res.Listed, n},
		{"queue list runs", len(res.ListS), 3},
		{"retried", res.Retried, n},
		{"delivered events", res.Delivered, n},
		{"deferred after retry", res.DeferredAfterRetry, 0},
		{"sink arrivals", res.SinkArrived, n},
		{"sink verified", res.SinkVerified, n},
		{"sink DKIM failures", res.SinkFailed, 0},
		{"sink distinct Message-IDs", res.SinkUnique, 1},
		{"sink duplicates", res.SinkDuplicates, n - 1},
	}
	for _, c := range counts {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	positive := []struct {
		name string
		v    float64
	}{
		{"empty queue ready", res.EmptyReadyS},
		{"queue files cached", res.CachedAgain},
		{"queue list median", res.ListMedianS},
		{"control socket", res.SocketTotalS},
		{"delivery time", res.DeliveryS},
		{"delivered per s", res.DeliveredPerS},
		{"steady per s", res.SteadyPerS},
		{"sink per s", res.SinkPerS},
		{"RSS ready", res.RSSReadyMB},
		{"peak RSS", res.PeakRSSMB},
	}
	for _, p := range positive {
		if !(p.v > 0) {
			t.Errorf("%s = %v, want a positive figure", p.name, p.v)
		}
	}
	// Order, not speed: the queue loads before the relay listens, which
	// it logs before it serves the greeting.
	for _, r := range []Restart{res.First, res.Again} {
		// The queue loads in the background: started comes before the
		// greeting, queue_loaded at any time.
		if !(r.LoadedLogS > 0 && r.StartedLogS > 0 && r.StartedLogS <= r.ReadyS) {
			t.Errorf("queue_loaded at %.3f s, started at %.3f s, greeting at %.3f s: want them positive, started before the greeting", r.LoadedLogS, r.StartedLogS, r.ReadyS)
		}
	}
	if res.PeakRSSMB < res.RSSReadyMB {
		t.Errorf("peak RSS %.1f MB below the RSS once ready, %.1f MB", res.PeakRSSMB, res.RSSReadyMB)
	}
	if res.ListBytes == 0 || res.SocketBytes == 0 {
		t.Errorf("queue list printed %d bytes, the control socket sent %d: want both non-zero", res.ListBytes, res.SocketBytes)
	}

	var table bytes.Buffer
	if err := res.writeTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"with 200 messages waiting", "restart to 220 greeting", "restart again at once to 220 greeting", "< 5 s: met", "queue list --json, median of 3", "delivered msgs/s", "peak RSS (VmHWM)", "The sink got 200 messages, 200 with every DKIM signature verified"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	var js bytes.Buffer
	if err := res.writeJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("-json output does not parse: %v", err)
	}
	if back["n"] != float64(n) || back["delivered_per_s"] == nil || back["restart"] == nil {
		t.Errorf("-json output lacks figures: %s", js.String())
	}

	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("the bench left %s behind in its temporary folder", left[0].Name())
	}
}

func TestCopyIDs(t *testing.T) {
	tests := []struct {
		name string
		orig string
		n    int
	}{
		{"ordinary", "00D22XR04FJ2JYV9CHV3", 1000},
		{"original ends in the first counter", "01ABCDEFGHJK00000001", 5},
		{"original ends in a later counter", "00ZZZZZZZZZZ0000000Z", 100},
		{"none", "00D22XR04FJ2JYV9CHV3", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, err := copyIDs(tt.orig, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) != tt.n {
				t.Fatalf("got %d IDs, want %d", len(ids), tt.n)
			}
			seen := map[string]bool{tt.orig: true}
			for _, id := range ids {
				if !queue.ValidID(id) {
					t.Errorf("%q is not a valid queue ID", id)
				}
				if id[:keptPrefix] != tt.orig[:keptPrefix] {
					t.Errorf("%q does not keep %q's first %d digits", id, tt.orig, keptPrefix)
				}
				if seen[id] {
					t.Errorf("%q repeats the original or another copy", id)
				}
				seen[id] = true
			}
		})
	}
	if _, err := copyIDs("../etc/passwd", 1); err == nil {
		t.Error("copyIDs accepted an invalid original ID")
	}
}

func TestCopyIDsCounter(t *testing.T) {
	ids, err := copyIDs("00D22XR04FJ2JYV9CHV3", 33)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range map[int]string{0: "00000001", 30: "0000000Z", 31: "00000010", 32: "00000011"} {
		if got := ids[i][keptPrefix:]; got != want {
			t.Errorf("copy %d ends in %s, want %s", i+1, got, want)
		}
	}
}

func TestReplicate(t *testing.T) {
	dir := t.TempDir()
	const orig = "00D22XR04FJ2JYV9CHV3"
	rec := `{"version":1,"id":"` + orig + `","from":"a@b.test"}`
	if err := os.WriteFile(dir+"/"+orig+".eml", []byte("Subject: x\r\n\r\nbody\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/"+orig+".json", []byte(rec), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := replicate(context.Background(), dir, orig, 10); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 20 {
		t.Fatalf("%d files in the queue, want 20", len(ents))
	}
	for _, e := range ents {
		id, ext, _ := strings.Cut(e.Name(), ".")
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
		if ext != "json" {
			continue
		}
		b, err := os.ReadFile(dir + "/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.Replace(rec, orig, id, 1); string(b) != want {
			t.Errorf("%s holds %s, want %s", e.Name(), b, want)
		}
	}
	// A second run would overwrite the copies: it must refuse.
	if err := replicate(context.Background(), dir, orig, 3); err == nil {
		t.Error("replicate overwrote existing queue files")
	}
}

// TestReplicateOneFile copies a message the queue committed in its
// one-file layout, and the queue loads every copy, each under its own ID.
func TestReplicateOneFile(t *testing.T) {
	dir := t.TempDir()
	q, err := queue.Open(queue.Options{Dir: dir, Delivery: config.Defaults().Delivery})
	if err != nil {
		t.Fatal(err)
	}
	d, err := q.NewDraft()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Write([]byte("Subject: x\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := d.Commit(queue.Envelope{From: "a@b.test", Rcpts: []string{"c@d.test"}}); err != nil {
		t.Fatal(err)
	}
	orig := d.ID()
	q.Close()
	// A state change since the commit is a <QID>.json beside the file:
	// here the trailer's own record, which the copies must carry too.
	b, err := os.ReadFile(dir + "/" + orig + ".msg")
	if err != nil {
		t.Fatal(err)
	}
	_, rec, ok := queue.SplitMessageFile(b)
	if !ok {
		t.Fatalf("%s.msg has no valid trailer", orig)
	}
	if err := os.WriteFile(dir+"/"+orig+".json", rec, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := replicate(context.Background(), dir, orig, 10); err != nil {
		t.Fatal(err)
	}
	states, err := filepath.Glob(dir + "/*.json")
	if err != nil || len(states) != 10 {
		t.Fatalf("%d .json files after the copies (%v), want 10", len(states), err)
	}
	for _, f := range states {
		b, err := os.ReadFile(f)
		if id := strings.TrimSuffix(filepath.Base(f), ".json"); err != nil || !bytes.Contains(b, []byte(`"`+id+`"`)) {
			t.Errorf("%s does not name its queue ID (%v)", f, err)
		}
	}
	q, err = queue.Open(queue.Options{Dir: dir, Delivery: config.Defaults().Delivery})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.WaitLoaded(context.Background()); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, m := range q.List() {
		ids[m.ID] = true
	}
	if len(ids) != 10 || !ids[orig] {
		t.Errorf("the queue loaded %d distinct messages (the original among them: %t), want 10", len(ids), ids[orig])
	}
	// A file without a valid trailer is no committed message to copy.
	if err := os.WriteFile(dir+"/"+orig+".msg", []byte("Subject: x\r\n\r\ncut short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := replicate(context.Background(), dir, orig, 2); err == nil || !strings.Contains(err.Error(), "trailer") {
		t.Errorf("replicate of an uncommitted file = %v, want an error about its trailer", err)
	}
}

func TestSteadyRate(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	every := func(n int, d time.Duration) []time.Time {
		ts := make([]time.Time, n)
		for i := range ts {
			ts[i] = t0.Add(time.Duration(i) * d)
		}
		return ts
	}
	// A slow start and a slow tail around a steady 100 per second.
	uneven := every(101, 10*time.Millisecond)
	uneven[0] = t0.Add(-10 * time.Second)
	uneven[100] = uneven[99].Add(10 * time.Second)
	tests := []struct {
		name  string
		times []time.Time
		want  float64
	}{
		{"100 per second", every(1001, 10*time.Millisecond), 100},
		{"start and tail left out", uneven, 100},
		{"too few", every(5, time.Millisecond), 0},
		{"all at once", every(100, 0), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := steadyRate(tt.times); got < tt.want*0.999 || got > tt.want*1.001 {
				t.Errorf("steadyRate = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{7}, 7},
	}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestDeliveredTime(t *testing.T) {
	want := time.Date(2026, 11, 26, 10, 39, 7, 77692866, time.UTC)
	tests := []struct {
		name string
		line string
		ok   bool
	}{
		{"slog line", `{"time":"2026-11-26T10:39:07.077692866Z","level":"INFO","msg":"delivered","qid":"X"}`, true},
		{"fields in another order", `{"msg":"delivered","time":"2026-11-26T10:39:07.077692866Z"}`, true},
		{"another event", `{"time":"2026-11-26T10:39:07.077692866Z","level":"INFO","msg":"deferred"}`, false},
		{"a reply quoting the event name", `{"time":"2026-11-26T10:39:07.077692866Z","msg":"deferred","reason":"\"msg\":\"delivered\""}`, false},
		{"not JSON", `"msg":"delivered"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := deliveredTime([]byte(tt.line))
			if ok != tt.ok || ok && !got.Equal(want) {
				t.Errorf("deliveredTime = %v, %v; want %v, %v", got, ok, want, tt.ok)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-n", "0"},
		{"-size", "10"},
		{"-port-base", "70000"},
		{"-timeout", "0s"},
		{"extra"},
		{"-nope"},
	} {
		var out, errs bytes.Buffer
		if code := mainRun(args, &out, &errs); code != 2 {
			t.Errorf("bigqueue %v: exit %d, want 2", args, code)
		}
		if errs.Len() == 0 {
			t.Errorf("bigqueue %v: no message on stderr", args)
		}
	}
}
