package relay

import (
	"context"
	"testing"
	"time"

	"dkimrelay/control"
	"dkimrelay/internal/pgtest"
	"dkimrelay/internal/testkit"
	"dkimrelay/tlsrpt"
)

// TestClusterTLSReports: the TLS sessions counted by relay b, which has
// stopped since, and those of relay a go into one report, sent by a for
// the cluster; the counts are taken once.
func TestClusterTLSReports(t *testing.T) {
	sts := newSTSWorld(t, `
reports.test.        MX 10 mx.other.test.
mta-sts.good.test.   A  127.0.0.5
_mta-sts.good.test.  TXT "v=STSv1; id=1"
_smtp._tls.good.test.  TXT "v=TLSRPTv1; rua=mailto:tls@reports.test"
`, map[string]string{
		"good.test": "version: STSv1\nmode: enforce\nmx: mx.good.test\nmax_age: 604800\n",
	})
	port, lns := testkit.ListenSame(t, "127.0.0.2", "127.0.0.3")
	good := sts.serveVerifiedSink(t, lns[0], "mx.good.test")
	reports := serveSink(t, lns[1])
	conn := pgtest.Start(t).NewDatabase(t)
	options := func(node string) hardOptions {
		o := clusterOptions(port, conn, node)
		o.delivery = sts.delivery(t, true) + "\n[tlsrpt]\nenabled = true"
		return o
	}

	// Relay b alone delivers one message, then stops: its counts are in
	// the database.
	b := newHardRelay(t, sts.dns, options("b"))
	qid := mustSend(t, b.Addr(), []string{"one@good.test"}, hardMessage("one", "one@good.test"))
	testkit.AwaitMessage(t, 15*time.Second, "Hello one.", good)
	b.WaitEvent("delivered", 5*time.Second, func(ev map[string]any) bool { return ev["qid"] == qid })
	b.Stop()

	a := newHardRelay(t, sts.dns, options("a"))
	qid = mustSend(t, a.Addr(), []string{"two@good.test"}, hardMessage("two", "two@good.test"))
	testkit.AwaitMessage(t, 15*time.Second, "Hello two.", good)
	a.WaitEvent("delivered", 5*time.Second, func(ev map[string]any) bool { return ev["qid"] == qid })

	send := func() []control.TLSReportSent {
		var sent []control.TLSReportSent
		if err := control.Call(context.Background(), a.Daemon.cfg.ControlSocket(), "tlsrpt-send", nil, &sent); err != nil {
			t.Fatal(err)
		}
		return sent
	}
	sent := send()
	if len(sent) != 1 || sent[0].Domain != "good.test" || sent[0].QID == "" || sent[0].Sessions != 2 {
		t.Fatalf("sent %+v, want one report of good.test's 2 sessions", sent)
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(reports.Messages()) < 1 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	msgs := reports.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d report messages arrived, want 1", len(msgs))
	}
	r := readReport(t, msgs[0].Data)
	if len(r.Policies) != 1 || r.Policies[0].Summary != (tlsrpt.Summary{Successful: 2}) {
		t.Fatalf("report %+v, want 2 successful sessions under one policy", r)
	}
	// Delivering the report counted a session to reports.test since.
	for _, s := range send() {
		if s.Domain == "good.test" {
			t.Errorf("a second send right after sent %+v again: the counts were taken", s)
		}
	}
}
