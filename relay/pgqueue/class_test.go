package pgqueue

import (
	"testing"
	"time"

	"dkimrelay/internal/pgtest"
	"dkimrelay/relay/queue"
)

// TestTransactionalFirst: a due transactional message is leased before
// bulk messages queued earlier, and the class comes back from the
// database.
func TestTransactionalFirst(t *testing.T) {
	pg := pgtest.Start(t)
	s := open(t, pg.NewDatabase(t), "a", 0)
	commitAs := func(class string) string {
		sp, err := s.NewSpool()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sp.Write([]byte("Subject: " + class + "\r\n\r\nhello\r\n")); err != nil {
			t.Fatal(err)
		}
		if err := sp.Commit(queue.Envelope{From: "app@example.org", Rcpts: []string{"z@example.net"}, User: "app", Class: class}); err != nil {
			t.Fatal(err)
		}
		return sp.ID()
	}
	bulk := commitAs(queue.ClassBulk)
	time.Sleep(10 * time.Millisecond)
	tx := commitAs("")
	if m := next(t, s, 10*time.Second); m.ID != tx || m.Envelope.TrafficClass() != queue.ClassTransactional {
		t.Fatalf("first leased: %s (%s), want the transactional %s", m.ID, m.Envelope.TrafficClass(), tx)
	}
	m := next(t, s, 10*time.Second)
	if m.ID != bulk || m.Envelope.Class != queue.ClassBulk {
		t.Fatalf("then %s (%q), want bulk %s", m.ID, m.Envelope.Class, bulk)
	}
	if got, err := s.Get(bulk); err != nil || got.Envelope.TrafficClass() != queue.ClassBulk {
		t.Errorf("Get(%s) = %+v, %v; want its bulk class", bulk, got, err)
	}
}
