package delivery

import (
	"context"
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	"dkimrelay/internal/dnssectest"
	"dkimrelay/internal/testkit"
	"dkimrelay/relay/outcome"
	"dkimrelay/resolver"
)

// TestDANEOverDNSSEC delivers through a real validating chain on loopback:
// Knot DNS signing the zones and Unbound validating them. A DANE-EE match
// in the signed zone is delivered with tls_policy dane; a TLSA mismatch is
// deferred with nothing sent; a bogus zone (its answers fail validation)
// is deferred; TLSA records in an unsigned zone are ignored
// (opportunistic).
func TestDANEOverDNSSEC(t *testing.T) {
	port, lns := testkit.ListenSame(t, "127.0.0.2", "127.0.0.3")
	good := testkit.SelfSigned(t, "mx.signed.test")
	other := testkit.SelfSigned(t, "mxbad.signed.test")
	matched := serveSink(t, lns[0], withTLS(good))
	unmatched := serveSink(t, lns[1], withTLS(other))
	tlsa := func(owner string, c tls.Certificate) string {
		return testkit.TLSA(t, fmt.Sprintf("_%d._tcp.%s", port, owner), 3, 1, 1, c.Leaf).String()
	}
	chain := dnssectest.Start(t,
		dnssectest.Zone{Name: "signed.test", Signed: true, Records: []string{
			"dane.signed.test. MX 10 mx.signed.test.",
			"mx.signed.test. A 127.0.0.2",
			tlsa("mx.signed.test", good),
			"bad.signed.test. MX 10 mxbad.signed.test.",
			"mxbad.signed.test. A 127.0.0.3",
			tlsa("mxbad.signed.test", good),
		}},
		dnssectest.Zone{Name: "bogus.test", Bogus: true, Records: []string{
			"bogus.test. MX 10 mx.bogus.test.",
			"mx.bogus.test. A 127.0.0.2",
			tlsa("mx.bogus.test", good),
		}},
		dnssectest.Zone{Name: "plain.test", Records: []string{
			"plain.test. MX 10 mx.plain.test.",
			"mx.plain.test. A 127.0.0.3",
			tlsa("mx.plain.test", good),
		}},
	)
	res, err := resolver.New(resolver.Options{Servers: []string{chain.Addr}, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{res: res, port: port}
	d := e.deliverer(t, func(c *Config) { c.DANEResolver = res })
	tests := []struct {
		rcpt string
		want want
	}{
		{"a@dane.signed.test", want{status: outcome.Delivered, code: 250, mx: "mx.signed.test", tls: "TLS1.3", reply: "250", policy: PolicyDANE}},
		{"a@bad.signed.test", want{status: outcome.Transient, mx: "mxbad.signed.test", enhanced: "4.7.0", reply: "TLSA mismatch", policy: PolicyDANE}},
		{"a@bogus.test", want{status: outcome.Transient, enhanced: "4.4.3", reply: "MX lookup for bogus.test failed"}},
		{"a@plain.test", want{status: outcome.Delivered, code: 250, mx: "mx.plain.test", tls: "TLS1.3", reply: "250", policy: PolicyOpportunistic}},
	}
	for _, tt := range tests {
		t.Run(tt.rcpt, func(t *testing.T) {
			check(t, d.Deliver(context.Background(), message(body, tt.rcpt)), []string{tt.rcpt}, tt.want)
		})
	}
	if n := len(matched.Messages()); n != 1 {
		t.Errorf("mx.signed.test got %d messages, want 1", n)
	}
	if n := len(unmatched.Messages()); n != 1 { // plain.test's only
		t.Errorf("127.0.0.3 got %d messages, want 1 (plain.test), none for bad.signed.test", n)
	}
}
