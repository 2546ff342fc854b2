package suppress

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"dkimrelay/internal/testkit"
	"dkimrelay/relay/outcome"
	"dkimrelay/suppressions"
)

func TestGuard(t *testing.T) {
	store, err := suppressions.OpenFile(filepath.Join(t.TempDir(), "suppressions.json"))
	if err != nil {
		t.Fatal(err)
	}
	logs := testkit.NewLogs(t)
	g := New(store, time.Hour, logs.Logger())
	g.Learn("Q1", []outcome.Outcome{
		outcome.Remote("mx.example.net", 550, "5.1.1", "550 5.1.1 no such user").For([]string{"Gone@Example.net"})[0],
		outcome.Remote("mx.example.com", 550, "5.7.1", "550 5.7.1 blocked using Spamhaus").For([]string{"alice@example.com"})[0],
		outcome.Remote("mx.example.net", 250, "2.0.0", "250 ok").For([]string{"bob@example.net"})[0],
	})
	deliver, held := g.Hold("Q2", []string{"gone@example.NET", "alice@example.com", "bob@example.net"})
	if !slices.Equal(deliver, []string{"alice@example.com", "bob@example.net"}) {
		t.Errorf("deliver %v, want alice and bob (a block suppresses nobody)", deliver)
	}
	if len(held) != 1 || held[0].Rcpt != "gone@example.NET" || held[0].Status != outcome.Suppressed {
		t.Fatalf("held %+v, want gone@example.NET suppressed", held)
	}
	sup := logs.Events("suppressed")
	if len(sup) != 1 || sup[0]["qid"] != "Q2" || sup[0]["rcpt"] != "gone@example.NET" || sup[0]["until"] == "" {
		t.Errorf("suppressed events %v", sup)
	}
	blocked := logs.Events("blocked_by_receiver")
	if len(blocked) != 1 || blocked[0]["mx"] != "mx.example.com" || blocked[0]["rcpt"] != "alice@example.com" {
		t.Errorf("blocked_by_receiver events %v", blocked)
	}

	// Off (suppress_after_bounce = 0): a bounce adds nothing.
	off := New(store, 0, logs.Logger())
	off.Learn("Q3", outcome.Remote("mx.example.net", 550, "5.1.1", "550 5.1.1 no such user").For([]string{"other@example.net"}))
	if _, held := off.Hold("Q4", []string{"other@example.net"}); len(held) != 0 {
		t.Errorf("with suppression off a bounce suppressed %v", held)
	}
}
