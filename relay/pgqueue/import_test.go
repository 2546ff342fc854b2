package pgqueue

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"dkimrelay/config"
	"dkimrelay/internal/pgtest"
	"dkimrelay/relay/outcome"
	"dkimrelay/relay/queue"
)

// TestImportInterruptedAndRerun: a single relay's queue of 30 messages,
// one of them deferred already, moved into the database by an import
// interrupted after 10 messages were committed but before they left the
// files, then run to the end, then run again: every message is in the
// database once, with its state, and is handed out once.
func TestImportInterruptedAndRerun(t *testing.T) {
	pg := pgtest.Start(t)
	s := open(t, pg.NewDatabase(t), "a", 0)
	q, err := queue.Open(queue.Options{Dir: t.TempDir(), Delivery: config.Defaults().Delivery})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	bodies := map[string][]byte{}
	for i := range 30 {
		d, err := q.NewDraft()
		if err != nil {
			t.Fatal(err)
		}
		body := bytes.Repeat([]byte(fmt.Sprintf("message %d\r\n", i)), 1+i*2000)
		d.Write(body)
		if err := d.Commit(queue.Envelope{From: "app@example.org", Rcpts: []string{"r@example.net", "s@example.net"}, User: "app"}); err != nil {
			t.Fatal(err)
		}
		bodies[d.ID()] = body
	}
	// One message tried once already: r delivered, s deferred.
	m, err := q.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	deferredID := m.ID
	if _, err := q.Record(m, []outcome.Outcome{
		{Rcpt: "r@example.net", Status: outcome.Delivered, Reply: "250 ok"},
		{Rcpt: "s@example.net", Status: outcome.Transient, Reply: "451 later"},
	}, queue.Steps{}); err != nil {
		t.Fatal(err)
	}

	// The interrupted run: ten messages committed to the database, still
	// in the files.
	n := 0
	q.Walk(func(m *queue.Message) error {
		if n == 10 {
			return io.EOF
		}
		n++
		r, err := q.OpenRaw(m.ID)
		if err != nil {
			return err
		}
		defer r.Close()
		_, err = s.importOne(context.Background(), m, r)
		return err
	})
	got, err := s.ImportFiles(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if got.Moved != 20 || got.Present != 10 || q.Len() != 0 {
		t.Fatalf("import after the interruption: %+v, %d left in the files; want 20 moved, 10 present, none left", got, q.Len())
	}
	if again, err := s.ImportFiles(context.Background(), q); err != nil || again != (Imported{}) {
		t.Fatalf("import run again: %+v, %v; want nothing", again, err)
	}
	if n, _ := s.Stats(); n != 30 {
		t.Fatalf("%d messages in the database, want 30", n)
	}

	dm, err := s.Get(deferredID)
	if err != nil {
		t.Fatal(err)
	}
	if dm.Rcpts[0].State != queue.Delivered || dm.Rcpts[1].State != queue.Deferred || dm.Rcpts[1].Attempts != 1 {
		t.Fatalf("the deferred message came in as %+v, %+v", *dm.Rcpts[0], *dm.Rcpts[1])
	}
	if err := s.Retry(deferredID); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for len(seen) < 30 {
		m := next(t, s, 10*time.Second)
		seen[m.ID]++
		r, err := s.OpenRaw(m.ID)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		r.Close()
		if !bytes.Equal(b, bodies[m.ID]) {
			t.Fatalf("%s: %d bytes in the database, %d were queued", m.ID, len(b), len(bodies[m.ID]))
		}
		if _, err := s.Record(m, outcomes(m, outcome.Delivered), queue.Steps{}); err != nil {
			t.Fatal(err)
		}
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("%s handed out %d times", id, c)
		}
	}
	if n, _ := s.Stats(); n != 0 {
		t.Fatalf("%d messages left", n)
	}
}
