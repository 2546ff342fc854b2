package cluster

import (
	"bufio"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"dkimrelay/events"
	"dkimrelay/internal/pgtest"
)

// TestEventLog: message events (and only those) reach the table with the
// node's name; Story gives them back in order; Prune removes what is
// older than the retention, once however many relays try.
func TestEventLog(t *testing.T) {
	pg := pgtest.Start(t)
	ctx := context.Background()
	db, err := Open(ctx, Options{ConnString: pg.NewDatabase(t), Node: "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var file strings.Builder
	l := NewEventLog("a")
	log := slog.New(l.Handler(slog.NewJSONHandler(&file, nil)))
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { l.Run(rctx, db, time.Hour); close(done) }()
	log.Info("started")
	log.With(events.QIDKey, "Q1").Info("accepted", "size", 10)
	log.Info("delivered", events.QIDKey, "Q1", "rcpt", "r@example.net")
	log.Info("accepted", events.QIDKey, "Q2")
	stop()
	<-done
	if n := strings.Count(file.String(), "\n"); n != 4 {
		t.Fatalf("the log file got %d events, want all 4", n)
	}
	story, err := Story(ctx, db, "Q1")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for sc := bufio.NewScanner(story); sc.Scan(); {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 2 || !strings.Contains(lines[0], `"msg":"accepted"`) || !strings.Contains(lines[1], `"rcpt":"r@example.net"`) || !strings.Contains(lines[1], `"node":"a"`) {
		t.Fatalf("story of Q1:\n%s", strings.Join(lines, "\n"))
	}
	if _, err := db.Pool.Exec(ctx, "UPDATE cluster_events SET time = time - interval '2 hours' WHERE qid = 'Q1'"); err != nil {
		t.Fatal(err)
	}
	if n, err := l.Prune(ctx, db, time.Hour); err != nil || n != 2 {
		t.Fatalf("Prune = %d, %v; want the 2 old events", n, err)
	}
	var left int
	if err := db.Pool.QueryRow(ctx, "SELECT count(*) FROM cluster_events").Scan(&left); err != nil || left != 1 {
		t.Fatalf("%d events left (%v), want Q2's", left, err)
	}
}
