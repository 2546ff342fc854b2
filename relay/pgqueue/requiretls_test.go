package pgqueue

import (
	"testing"
	"time"

	"dkimrelay/internal/pgtest"
	"dkimrelay/relay/outcome"
	"dkimrelay/relay/queue"
)

// TestTLSDemandsKept: REQUIRETLS and TLS-Required: No (RFC 8689) come
// back with the envelope, from Get and from a lease, so that whichever
// relay delivers keeps to them.
func TestTLSDemandsKept(t *testing.T) {
	pg := pgtest.Start(t)
	s := open(t, pg.NewDatabase(t), "a", 0)
	for _, want := range [][2]bool{{true, false}, {false, true}, {false, false}} {
		sp, err := s.NewSpool()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sp.Write([]byte("Subject: x\r\n\r\nx\r\n")); err != nil {
			t.Fatal(err)
		}
		env := queue.Envelope{From: "app@example.org", Rcpts: []string{"r@example.net"}, RequireTLS: want[0], TLSOptional: want[1]}
		if err := sp.Commit(env); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(sp.ID())
		if err != nil {
			t.Fatal(err)
		}
		if g := [2]bool{got.Envelope.RequireTLS, got.Envelope.TLSOptional}; g != want {
			t.Errorf("Get: RequireTLS, TLSOptional = %v, want %v", g, want)
		}
		m := next(t, s, 10*time.Second)
		if g := [2]bool{m.Envelope.RequireTLS, m.Envelope.TLSOptional}; m.ID != sp.ID() || g != want {
			t.Errorf("Next: %s with RequireTLS, TLSOptional = %v, want %s with %v", m.ID, g, sp.ID(), want)
		}
		if _, err := s.Record(m, outcomes(m, outcome.Delivered), queue.Steps{}); err != nil {
			t.Fatal(err)
		}
	}
}
