package pgtlsrpt

import (
	"context"
	"testing"
	"time"

	"dkimrelay/cluster"
	"dkimrelay/cluster/clustertest"
	"dkimrelay/tlsrpt"
)

func openRelays(t *testing.T, nodes ...string) []*cluster.DB {
	t.Helper()
	return clustertest.OpenNodes(t, nodes...)
}

func sts(domain, mx, failure string) tlsrpt.Session {
	return tlsrpt.Session{Domain: domain, PolicyType: tlsrpt.PolicySTS, PolicyString: []string{"version: STSv1", "mode: enforce"},
		MXHost: mx, ReceivingIP: "192.0.2.1", Failure: failure}
}

// TestCountsAddUpAcrossRelays: the sessions two relays counted come out
// of one take, summed per policy, once; a take before the span's age, or
// while another relay holds the lock, takes nothing.
func TestCountsAddUpAcrossRelays(t *testing.T) {
	dbs := openRelays(t, "a", "b")
	a, b := New(dbs[0]), New(dbs[1])
	ctx := context.Background()

	a.Record(sts("mx.test", "mx1.mx.test", ""))
	a.Record(sts("mx.test", "mx1.mx.test", tlsrpt.ResultCertificateExpired))
	b.Record(sts("mx.test", "mx2.mx.test", ""))
	b.Record(sts("mx.test", "mx1.mx.test", tlsrpt.ResultCertificateExpired))
	b.Record(tlsrpt.Session{Domain: "plain.test", PolicyType: tlsrpt.PolicyNone, MXHost: "mx.plain.test"})
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}

	if _, _, ok, err := a.TakeDue(ctx, time.Hour); ok || err != nil {
		t.Fatalf("a take of a fresh span: ok %v, err %v; want nothing taken", ok, err)
	}
	// Another relay sending now holds the lock.
	tx, err := dbs[1].Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(cluster.TLSReportLock)); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, err := a.TakeDue(ctx, 0); ok || err != nil {
		t.Fatalf("a take under another relay's lock: ok %v, err %v; want nothing taken", ok, err)
	}
	tx.Rollback(ctx)

	span, byDomain, ok, err := a.TakeDue(ctx, 0)
	if !ok || err != nil {
		t.Fatalf("take: ok %v, err %v", ok, err)
	}
	if !span.End.After(span.Start) {
		t.Errorf("span %v to %v", span.Start, span.End)
	}
	if len(byDomain) != 2 || len(byDomain["mx.test"]) != 1 || len(byDomain["plain.test"]) != 1 {
		t.Fatalf("reports by domain: %+v", byDomain)
	}
	p := byDomain["mx.test"][0]
	if p.Summary != (tlsrpt.Summary{Successful: 2, Failed: 2}) {
		t.Errorf("mx.test summary %+v, want 2 successful, 2 failed", p.Summary)
	}
	if len(p.Failures) != 1 || p.Failures[0].FailedSessionCount != 2 || p.Failures[0].ResultType != tlsrpt.ResultCertificateExpired {
		t.Errorf("mx.test failures %+v, want one kind counted twice", p.Failures)
	}
	if len(p.Policy.MXHost) != 2 {
		t.Errorf("mx.test MX hosts %v, want both", p.Policy.MXHost)
	}
	if got := byDomain["plain.test"][0].Summary; got != (tlsrpt.Summary{Successful: 1}) {
		t.Errorf("plain.test summary %+v", got)
	}

	// Taken once: the next take starts where this one ended, empty.
	next, byDomain, ok, err := b.TakeDue(ctx, 0)
	if !ok || err != nil || len(byDomain) != 0 {
		t.Fatalf("second take: ok %v, err %v, %d domains; want an empty take", ok, err, len(byDomain))
	}
	if !next.Start.Equal(span.End) {
		t.Errorf("next span starts %v, want %v", next.Start, span.End)
	}
}

// TestDailySendOncePerCluster: two relays' senders asking at the same
// time for the span that is due send one set of reports between them.
func TestDailySendOncePerCluster(t *testing.T) {
	dbs := openRelays(t, "a", "b")
	counts := []*Counts{New(dbs[0]), New(dbs[1])}
	for _, c := range counts {
		c.Record(sts("mx.test", "mx1.mx.test", ""))
	}
	time.Sleep(300 * time.Millisecond)
	results := make(chan int, 2)
	for _, c := range counts {
		go func() {
			_, byDomain, ok, err := c.TakeDue(context.Background(), 200*time.Millisecond)
			if err != nil {
				t.Error(err)
			}
			n := -1
			if ok {
				n = int(byDomain["mx.test"][0].Summary.Successful)
			}
			results <- n
		}()
	}
	got := []int{<-results, <-results}
	taken, sessions := 0, 0
	for _, n := range got {
		if n >= 0 {
			taken++
			sessions += n
		}
	}
	// Both relays flush before taking; the one that takes sees both
	// sessions unless the other flushed after it took, and then that
	// session waits for the next span: never counted twice.
	if taken != 1 || sessions < 1 || sessions > 2 {
		t.Fatalf("takes %v (-1: nothing taken), want one take", got)
	}
	var left int
	if err := dbs[0].Pool.QueryRow(context.Background(), "SELECT count(*) FROM cluster_tlsrpt_counts").Scan(&left); err != nil {
		t.Fatal(err)
	}
	if sessions+left != 2 {
		t.Errorf("%d sessions taken and %d rows left, want 2 sessions in all", sessions, left)
	}
}
