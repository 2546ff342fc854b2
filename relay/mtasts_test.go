package relay

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
	"dkimrelay/resolver/dnstest"
)

// TestMTASTSEndToEnd runs the relay against domains publishing MTA-STS
// policies in enforce mode, served over HTTPS by a host with a certificate
// from a test CA that delivery.tls_ca_file trusts: verified TLS to a listed
// MX delivers, a stripped STARTTLS defers with nothing sent, and a domain
// without a policy is delivered as before.
func TestMTASTSEndToEnd(t *testing.T) {
	sts := newSTSWorld(t, `
strip.test.         MX 10 mx.strip.test.
mx.strip.test.      A  127.0.0.4
mta-sts.good.test.  A  127.0.0.5
mta-sts.strip.test. A  127.0.0.5
_mta-sts.good.test.  TXT "v=STSv1; id=20261203"
_mta-sts.strip.test. TXT "v=STSv1; id=1"
`, map[string]string{
		"good.test":  "version: STSv1\nmode: enforce\nmx: mx.good.test\nmax_age: 604800\n",
		"strip.test": "version: STSv1\nmode: enforce\nmx: *.strip.test\nmax_age: 604800\n",
	})

	port, lns := testkit.ListenSame(t, "127.0.0.2", "127.0.0.3", "127.0.0.4")
	good := sts.serveVerifiedSink(t, lns[0], "mx.good.test")
	other := serveSink(t, lns[1])
	stripped := serveSink(t, lns[2]) // no STARTTLS: as an attacker on the path leaves it

	h := newHardRelay(t, sts.dns, hardOptions{port: port, delivery: sts.delivery(t, true)})

	qid := mustSend(t, h.Addr(), []string{"someone@good.test"}, hardMessage("sts", "someone@good.test"))
	testkit.AwaitMessage(t, 15*time.Second, "Hello sts.", good)
	ev := h.WaitEvent("delivered", 5*time.Second, func(ev map[string]any) bool { return ev["qid"] == qid })
	if ev["tls_policy"] != "mta-sts" || ev["tls"] != "TLS1.3" {
		t.Errorf("delivered event %v: want tls_policy mta-sts over TLS1.3", ev)
	}
	if _, err := os.Stat(filepath.Join(h.Dir, "data", "mta-sts", "good.test.json")); err != nil {
		t.Errorf("the policy is not kept in the data folder: %v", err)
	}

	qid = mustSend(t, h.Addr(), []string{"someone@other.test"}, hardMessage("plain", "someone@other.test"))
	testkit.AwaitMessage(t, 15*time.Second, "Hello plain.", other)
	ev = h.WaitEvent("delivered", 5*time.Second, func(ev map[string]any) bool { return ev["qid"] == qid })
	if ev["tls_policy"] != "none" {
		t.Errorf("delivered event %v: want tls_policy none", ev)
	}

	qid = mustSend(t, h.Addr(), []string{"someone@strip.test"}, hardMessage("strip", "someone@strip.test"))
	ev = h.WaitEvent("deferred", 10*time.Second, func(ev map[string]any) bool { return ev["qid"] == qid })
	reason := fmt.Sprint(ev["reason"])
	if ev["tls_policy"] != "mta-sts" || !strings.Contains(reason, "does not offer STARTTLS") ||
		!strings.Contains(reason, "MTA-STS policy of strip.test") {
		t.Errorf("deferred event %v: want tls_policy mta-sts and a reason naming STARTTLS and the policy", ev)
	}
	if n := len(stripped.Messages()); n != 0 {
		t.Errorf("%d messages reached the server without STARTTLS", n)
	}
}

// stsWorld is the setting of the MTA-STS end-to-end tests: DNS serving
// hardZone and the test's records, and the HTTPS host 127.0.0.5 serving
// the test's policies with a certificate from a test CA.
type stsWorld struct {
	ca         *testkit.CA
	dns        *dnstest.Server
	policyPort int
}

func newSTSWorld(t *testing.T, records string, policies map[string]string) *stsWorld {
	t.Helper()
	w := &stsWorld{ca: testkit.NewCA(t), dns: dnstest.NewServer(t)}
	w.dns.AddZone(hardZone + records)
	w.policyPort = testkit.ServePolicies(t, w.ca, "127.0.0.5", policies)
	return w
}

// delivery is the [delivery] setting that fetches the policies from the
// world; with trustCA, verified TLS also trusts the world's CA
// (delivery.tls_ca_file).
func (w *stsWorld) delivery(t *testing.T, trustCA bool) string {
	t.Helper()
	if !trustCA {
		return fmt.Sprintf("mta_sts_port = %d", w.policyPort)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, w.ca.PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("mta_sts_port = %d\ntls_ca_file = %q", w.policyPort, caFile)
}

// serveVerifiedSink serves on ln an MX offering STARTTLS with a
// certificate for name from the world's CA.
func (w *stsWorld) serveVerifiedSink(t *testing.T, ln net.Listener, name string) *smtpsink.Sink {
	return serveTLSSink(t, ln, w.ca.Issue(t, name))
}
