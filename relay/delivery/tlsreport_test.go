package delivery

import (
	"context"
	"crypto/tls"
	"testing"

	"dkimrelay/internal/testkit"
	"dkimrelay/tlsrpt"
)

// TestTLSReporting counts each session to a policy domain's MX hosts as
// RFC 8460 reports it: successes, and failures by result type, also those
// a testing-mode policy only notes.
func TestTLSReporting(t *testing.T) {
	ca := testkit.NewCA(t)
	store, err := tlsrpt.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	deliver := func(cert *tls.Certificate, rcpt string) {
		t.Helper()
		e := newEnv(t)
		serveSink(t, e.ln2, withTLSIf(cert))
		e.dns.Add("enforce.example. MX 10 mx1.test.", "testing.example. MX 10 mx1.test.", "plain.example. MX 10 mx1.test.",
			"elsewhere.example. MX 10 mx1.test.")
		d := e.deliverer(t, func(c *Config) {
			c.STSPolicies = policies{"enforce.example": enforceMX1, "testing.example": testingMX1,
				"elsewhere.example": "version: STSv1\nmode: enforce\nmx: mx9.test\nmax_age: 86400\n"}
			c.RootCAs = ca.Pool()
			c.TLSReporter = store
		})
		d.Deliver(context.Background(), message(body, rcpt))
	}
	good := ca.Issue(t, "mx1.test")
	self := testkit.SelfSigned(t, "mx1.test")
	deliver(&good, "a@enforce.example")
	deliver(nil, "b@enforce.example")     // STARTTLS stripped
	deliver(&self, "c@testing.example")   // delivered, counted as failed
	deliver(&self, "d@plain.example")     // no policy
	deliver(&good, "e@elsewhere.example") // MX not in the policy

	_, byDomain, err := store.Take()
	if err != nil {
		t.Fatal(err)
	}
	one := func(domain, typ string, ok, failed int64, result string) {
		t.Helper()
		ps := byDomain[domain]
		if len(ps) != 1 || ps[0].Policy.Type != typ || ps[0].Summary != (tlsrpt.Summary{Successful: ok, Failed: failed}) {
			t.Fatalf("%s: %+v, want type %s, %d ok, %d failed", domain, ps, typ, ok, failed)
		}
		if result != "" && (len(ps[0].Failures) != 1 || ps[0].Failures[0].ResultType != result || ps[0].Failures[0].ReceivingMXHostname != "mx1.test") {
			t.Errorf("%s failures %+v, want %s at mx1.test", domain, ps[0].Failures, result)
		}
	}
	one("enforce.example", tlsrpt.PolicySTS, 1, 1, tlsrpt.ResultSTARTTLSNotSupported)
	one("testing.example", tlsrpt.PolicySTS, 0, 1, tlsrpt.ResultCertificateNotTrusted)
	one("plain.example", tlsrpt.PolicyNone, 1, 0, "")
	one("elsewhere.example", tlsrpt.PolicySTS, 0, 1, tlsrpt.ResultValidationFailure)
	if s := byDomain["enforce.example"][0].Policy.String; len(s) != 4 || s[1] != "mode: enforce" {
		t.Errorf("policy-string %q", s)
	}
}
