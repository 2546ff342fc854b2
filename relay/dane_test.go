package relay

import (
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
	"time"

	"dkimrelay/internal/testkit"
	"dkimrelay/resolver/dnstest"
)

// TestDANEEndToEnd runs the relay against signed zones (the test resolver,
// on loopback, sets the AD bit for them as a validating resolver does): a
// certificate matching the DANE-EE record is delivered to with tls_policy
// dane; a certificate matching none is deferred and nothing is sent.
func TestDANEEndToEnd(t *testing.T) {
	port, lns := testkit.ListenSame(t, "127.0.0.2", "127.0.0.3")
	cert := testkit.SelfSigned(t, "mx.dane.test")
	wrong := testkit.SelfSigned(t, "mx.mismatch.test")
	matched, mismatched := serveTLSSink(t, lns[0], cert), serveTLSSink(t, lns[1], wrong)

	dns := dnstest.NewServer(t)
	dns.AddZone(hardZone + `
dane.test.          MX 10 mx.dane.test.
mx.dane.test.       A  127.0.0.2
mismatch.test.      MX 10 mx.mismatch.test.
mx.mismatch.test.   A  127.0.0.3
`)
	for owner, c := range map[string]tls.Certificate{"mx.dane.test": cert, "mx.mismatch.test": cert} {
		dns.Add(testkit.TLSA(t, fmt.Sprintf("_%d._tcp.%s", port, owner), 3, 1, 1, c.Leaf).String())
	}
	dns.SetSecure("dane.test")
	dns.SetSecure("mismatch.test")

	h := newHardRelay(t, dns, hardOptions{port: port})
	qid := mustSend(t, h.Addr(), []string{"someone@dane.test"}, hardMessage("dane", "someone@dane.test"))
	testkit.AwaitMessage(t, 15*time.Second, "Hello dane.", matched)
	ev := h.WaitEvent("delivered", 5*time.Second, func(ev map[string]any) bool { return ev["qid"] == qid })
	if ev["tls_policy"] != "dane" {
		t.Errorf("delivered event %v: want tls_policy dane", ev)
	}

	qid = mustSend(t, h.Addr(), []string{"someone@mismatch.test"}, hardMessage("mismatch", "someone@mismatch.test"))
	ev = h.WaitEvent("deferred", 10*time.Second, func(ev map[string]any) bool { return ev["qid"] == qid })
	if ev["tls_policy"] != "dane" || !strings.Contains(fmt.Sprint(ev["reason"]), "TLSA mismatch") {
		t.Errorf("deferred event %v: want tls_policy dane and a TLSA mismatch", ev)
	}
	if n := len(mismatched.Messages()); n != 0 {
		t.Errorf("%d messages reached the server whose certificate matches no TLSA record", n)
	}
}
