package relay

import (
	"bytes"
	"context"
	"testing"
	"time"

	"dkimrelay/control"
	"dkimrelay/internal/testkit"
	"dkimrelay/tlsrpt"
)

// TestTLSReportsEndToEnd counts the relay's sessions to two domains with
// MTA-STS policies in enforce mode, one of them stripped of STARTTLS, and
// sends each domain its RFC 8460 report: a signed message whose gzip'd
// JSON has the counts that happened.
func TestTLSReportsEndToEnd(t *testing.T) {
	sts := newSTSWorld(t, `
strip.test.          MX 10 mx.strip.test.
mx.strip.test.       A  127.0.0.4
reports.test.        MX 10 mx.other.test.
mta-sts.good.test.   A  127.0.0.5
mta-sts.strip.test.  A  127.0.0.5
_mta-sts.good.test.  TXT "v=STSv1; id=1"
_mta-sts.strip.test. TXT "v=STSv1; id=1"
_smtp._tls.good.test.  TXT "v=TLSRPTv1; rua=mailto:tls@reports.test"
_smtp._tls.strip.test. TXT "v=TLSRPTv1; rua=mailto:tls@reports.test,https://ignored.example/"
`, map[string]string{
		"good.test":  "version: STSv1\nmode: enforce\nmx: mx.good.test\nmax_age: 604800\n",
		"strip.test": "version: STSv1\nmode: enforce\nmx: mx.strip.test\nmax_age: 604800\n",
	})
	port, lns := testkit.ListenSame(t, "127.0.0.2", "127.0.0.3", "127.0.0.4")
	good := sts.serveVerifiedSink(t, lns[0], "mx.good.test")
	reports := serveSink(t, lns[1])
	serveSink(t, lns[2]) // mx.strip.test: no STARTTLS

	h := newHardRelay(t, sts.dns, hardOptions{port: port, delivery: sts.delivery(t, true) + "\n[tlsrpt]\nenabled = true"})

	qid := mustSend(t, h.Addr(), []string{"someone@good.test"}, hardMessage("counted", "someone@good.test"))
	testkit.AwaitMessage(t, 15*time.Second, "Hello counted.", good)
	h.WaitEvent("delivered", 5*time.Second, func(ev map[string]any) bool { return ev["qid"] == qid })
	qid = mustSend(t, h.Addr(), []string{"someone@strip.test"}, hardMessage("stripped", "someone@strip.test"))
	h.WaitEvent("deferred", 10*time.Second, func(ev map[string]any) bool { return ev["qid"] == qid })

	// What `dkimrelay tlsrpt send` asks over the control socket.
	var sent []control.TLSReportSent
	if err := control.Call(context.Background(), h.Daemon.cfg.ControlSocket(), "tlsrpt-send", nil, &sent); err != nil {
		t.Fatal(err)
	}
	if len(sent) != 2 || sent[0].Domain != "good.test" || sent[0].QID == "" || sent[1].Domain != "strip.test" || sent[1].QID == "" {
		t.Fatalf("sent %+v", sent)
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(reports.Messages()) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	got := map[string]tlsrpt.Report{}
	for _, m := range reports.Messages() {
		if m.Header("DKIM-Signature") == "" || m.From != "postmaster@"+hardDomain {
			t.Errorf("report from %q, signed %v", m.From, m.Header("DKIM-Signature") != "")
		}
		got[m.Header("TLS-Report-Domain")] = readReport(t, m.Data)
	}
	check := func(domain string, ok, failed int64, result string) {
		t.Helper()
		r, found := got[domain]
		if !found || len(r.Policies) != 1 || r.Policies[0].Policy.Type != tlsrpt.PolicySTS ||
			r.Policies[0].Summary != (tlsrpt.Summary{Successful: ok, Failed: failed}) {
			t.Fatalf("%s report %+v (found %v)", domain, r, found)
		}
		if result != "" && (len(r.Policies[0].Failures) == 0 || r.Policies[0].Failures[0].ResultType != result) {
			t.Errorf("%s failures %+v, want %s", domain, r.Policies[0].Failures, result)
		}
	}
	check("good.test", 1, 0, "")
	check("strip.test", 0, 1, tlsrpt.ResultSTARTTLSNotSupported)
}

// readReport takes the JSON report out of a TLS report message.
func readReport(t *testing.T, data []byte) tlsrpt.Report {
	t.Helper()
	r, err := tlsrpt.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return r
}
