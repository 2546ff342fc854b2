package queue

import (
	"bytes"
	"context"
	"testing"

	"dkimrelay/relay/outcome"
)

// BenchmarkCommit measures accepting a 4 KB message with real fsyncs, one
// session at a time and many at once (where group commit pays off).
func BenchmarkCommit(b *testing.B) {
	msg := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd\r\n"), 64) // 4 KiB
	env := Envelope{From: "app@example.org", Rcpts: []string{"b@example.net"}, Signatures: []string{testSig}}
	commitOne := func(b *testing.B, q *Queue) {
		d, err := q.NewDraft()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := d.Write(msg); err != nil {
			b.Fatal(err)
		}
		if err := d.Commit(env); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		q := mustOpen(b, Options{Dir: queueDir(b), Delivery: defaultDelivery})
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			commitOne(b, q)
		}
	})
	for _, spares := range []int{0, DefaultSpares} {
		name := "parallel"
		if spares > 0 {
			name = "parallel-spares"
		}
		b.Run(name, func(b *testing.B) { commitParallel(b, spares, msg, env) })
	}
}

// commitParallel commits msg from 8 sessions at once into a queue keeping
// spares message files ready.
func commitParallel(b *testing.B, spares int, msg []byte, env Envelope) {
	q := mustOpen(b, Options{Dir: queueDir(b), Delivery: defaultDelivery, Spares: spares})
	b.SetBytes(int64(len(msg)))
	b.SetParallelism(8) // sessions are I/O bound: more of them than cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d, err := q.NewDraft()
			if err == nil {
				d.Write(msg)
				err = d.Commit(env)
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkLifecycle measures a message's whole way through the files'
// queue, one at a time: commit, handed out by Next, read as it goes on the
// wire, delivered and removed. Under `strace -f -c` it counts the system
// calls a message costs the queue.
// With spares, a message's file comes from the pool (Options.Spares).
func BenchmarkLifecycle(b *testing.B) {
	b.Run("files", func(b *testing.B) { lifecycle(b, 0) })
	b.Run("spares", func(b *testing.B) { lifecycle(b, DefaultSpares) })
}

func lifecycle(b *testing.B, spares int) {
	msg := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd\r\n"), 64) // 4 KiB
	env := Envelope{From: "app@example.org", Rcpts: []string{"b@example.net"}, Signatures: []string{testSig}}
	q := mustOpen(b, Options{Dir: queueDir(b), Delivery: defaultDelivery, Spares: spares})
	buf := make([]byte, 32<<10)
	delivered := []outcome.Outcome{{Rcpt: "b@example.net", Status: outcome.Delivered}}
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		d, err := q.NewDraft()
		if err != nil {
			b.Fatal(err)
		}
		d.Write(msg)
		if err := d.Commit(env); err != nil {
			b.Fatal(err)
		}
		m, err := q.Next(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		rc, err := q.Open(m)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := rc.Read(buf); err != nil {
				break
			}
		}
		rc.Close()
		if _, err := q.Record(m, delivered, Steps{}); err != nil {
			b.Fatal(err)
		}
	}
}
