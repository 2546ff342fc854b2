package queue

import (
	"bytes"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// BenchmarkOpen measures a restart with a large queue waiting (its
// destination down): Open's recovery, which loads every envelope, and
// List, the data behind `dkimrelay queue list`. The queue is made by
// copying one committed message under new IDs, without fsyncs, so a big
// one is quick to build. DKIMRELAY_BENCH_QUEUE_SIZE sets the size (issue
// 7's target is 100,000 messages: ready in under 5 s, listed in under 2 s);
// the default keeps `go test -bench .` fast.
func BenchmarkOpen(b *testing.B) {
	size := 2000
	if s := os.Getenv("DKIMRELAY_BENCH_QUEUE_SIZE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("DKIMRELAY_BENCH_QUEUE_SIZE=%q: want a positive number", s)
		}
		size = n
	}
	dir := queueDir(b)
	q := mustOpen(b, Options{Dir: dir, Delivery: defaultDelivery})
	msg := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd\r\n"), 64)
	d, err := q.NewDraft()
	if err != nil {
		b.Fatal(err)
	}
	d.Write(msg)
	env := Envelope{From: "app@example.org", Rcpts: []string{"a@example.net", "b@example.net"}, Signatures: []string{testSig}}
	if err := d.Commit(env); err != nil {
		b.Fatal(err)
	}
	first := d.ID()
	q.Close()
	rec, _, _, err := readTrailer(q.path(first+".msg"), nil)
	if err != nil {
		b.Fatal(err)
	}
	rec = bytes.Clone(rec)
	t0 := time.Now()
	for i := 1; i < size; i++ {
		id, err := newID(t0.Add(time.Duration(i) * time.Microsecond))
		if err != nil {
			b.Fatal(err)
		}
		r := bytes.Replace(rec, []byte(first), []byte(id), 1)
		if err := os.WriteFile(q.path(id+".msg"), appendFooter(append(slices.Clip(msg), r...), r), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		q, err := Open(Options{Dir: dir, Delivery: defaultDelivery})
		if err != nil {
			b.Fatal(err)
		}
		opened := time.Since(start)
		start = time.Now()
		list := q.List()
		listed := time.Since(start)
		q.Close()
		if len(list) != size {
			b.Fatalf("Open loaded %d messages, want %d", len(list), size)
		}
		b.ReportMetric(opened.Seconds(), "open-s")
		b.ReportMetric(listed.Seconds(), "list-s")
	}
}
