package delivery

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"

	"dkimrelay/internal/testkit"
	"dkimrelay/mtasts"
	"dkimrelay/relay/outcome"
)

// policies answers fixed MTA-STS policies, as mtasts.Cache would once it
// fetched them (package mtasts tests the fetching).
type policies map[string]string

func (p policies) Policy(_ context.Context, domain string) mtasts.Lookup {
	text, ok := p[domain]
	if !ok {
		return mtasts.Lookup{Problem: "no MTA-STS record"}
	}
	pol, err := mtasts.Parse(text)
	if err != nil {
		panic(err)
	}
	return mtasts.Lookup{Policy: pol, Source: "fetched"}
}

const (
	enforceMX1 = "version: STSv1\nmode: enforce\nmx: mx1.test\nmax_age: 86400\n"
	testingMX1 = "version: STSv1\nmode: testing\nmx: mx1.test\nmax_age: 86400\n"
)

// TestMTASTS delivers to domains with MTA-STS policies (RFC 8461 section
// 5): in enforce mode only over verified TLS to a listed MX host, else
// deferred with nothing sent; in testing mode delivered anyway.
func TestMTASTS(t *testing.T) {
	ca := testkit.NewCA(t)
	good := ca.Issue(t, "mx1.test")
	tests := []struct {
		name   string
		policy string
		mx1    *tls.Certificate // what mx1.test presents; nil: no STARTTLS
		mx2    bool             // mx2.test (unlisted) is the first MX, with a valid certificate
		want   want
	}{
		{"enforce, verified", enforceMX1, &good, false,
			want{status: outcome.Delivered, code: 250, mx: "mx1.test", tls: "TLS1.3", reply: "250", policy: PolicyMTASTS}},
		{"enforce, STARTTLS stripped", enforceMX1, nil, false,
			want{status: outcome.Transient, mx: "mx1.test", enhanced: "4.7.0", reply: "does not offer STARTTLS; refusing to send mail without TLS (required by the MTA-STS policy of example.net)", policy: PolicyMTASTS}},
		{"enforce, wrong certificate name", enforceMX1, ptr(ca.Issue(t, "mx.elsewhere.test")), false,
			want{status: outcome.Transient, mx: "mx1.test", enhanced: "4.7.0", reply: "certificate name mismatch", policy: PolicyMTASTS}},
		{"enforce, expired certificate", enforceMX1, ptr(ca.Expired(t, "mx1.test")), false,
			want{status: outcome.Transient, mx: "mx1.test", enhanced: "4.7.0", reply: "certificate expired", policy: PolicyMTASTS}},
		{"enforce, self-signed certificate", enforceMX1, ptr(testkit.SelfSigned(t, "mx1.test")), false,
			want{status: outcome.Transient, mx: "mx1.test", enhanced: "4.7.0", reply: "unknown authority", policy: PolicyMTASTS}},
		{"enforce, first MX not in the policy", enforceMX1, &good, true,
			want{status: outcome.Delivered, code: 250, mx: "mx1.test", tls: "TLS1.3", reply: "250", policy: PolicyMTASTS}},
		{"enforce, no MX in the policy", strings.Replace(enforceMX1, "mx1.test", "mx9.test", 1), &good, false,
			want{status: outcome.Transient, mx: "mx1.test", enhanced: "4.7.0", reply: "MX host mx1.test is not one the MTA-STS policy of example.net allows (mx: mx9.test)", policy: PolicyMTASTS}},
		{"testing, self-signed", testingMX1, ptr(testkit.SelfSigned(t, "mx1.test")), false,
			want{status: outcome.Delivered, code: 250, mx: "mx1.test", tls: "TLS1.3", reply: "250", policy: PolicyMTASTSTesting}},
		{"testing, no STARTTLS", testingMX1, nil, false,
			want{status: outcome.Delivered, code: 250, mx: "mx1.test", tls: "", reply: "250", policy: PolicyMTASTSTesting}},
		{"mode none", "version: STSv1\nmode: none\nmax_age: 86400\n", nil, false,
			want{status: outcome.Delivered, code: 250, mx: "mx1.test", tls: "", reply: "250", policy: PolicyNone}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			s1 := serveSink(t, e.ln2, withTLSIf(tt.mx1))
			s2 := serveSink(t, e.ln3, withTLS(ca.Issue(t, "mx2.test")))
			if tt.mx2 {
				e.dns.Add("example.net. MX 5 mx2.test.")
			}
			e.dns.Add("example.net. MX 10 mx1.test.")
			d := e.deliverer(t, func(c *Config) {
				c.STSPolicies = policies{"example.net": tt.policy}
				c.RootCAs = ca.Pool()
			})
			rcpts := []string{"alice@example.net"}
			check(t, d.Deliver(context.Background(), message(body, rcpts...)), rcpts, tt.want)
			wantMsgs := 0
			if tt.want.status == outcome.Delivered {
				wantMsgs = 1
			}
			if n := len(s1.Messages()); n != wantMsgs {
				t.Errorf("mx1 got %d messages, want %d", n, wantMsgs)
			}
			if n := len(s2.Messages()); n != 0 {
				t.Errorf("mx2, not in the policy, got %d messages", n)
			}
		})
	}
}

// TestMTASTSOtherDomains: a policy binds its own domain alone.
func TestMTASTSOtherDomains(t *testing.T) {
	e := newEnv(t)
	s := serveSink(t, e.ln2)
	e.dns.Add("example.net. MX 10 mx1.test.", "other.example. MX 10 mx1.test.")
	d := e.deliverer(t, func(c *Config) { c.STSPolicies = policies{"example.net": enforceMX1} })
	rcpts := []string{"a@other.example", "b@example.net"}
	check(t, d.Deliver(context.Background(), message(body, rcpts...)), rcpts,
		want{status: outcome.Delivered, code: 250, mx: "mx1.test", reply: "250", policy: PolicyNone},
		want{status: outcome.Transient, mx: "mx1.test", reply: "does not offer STARTTLS", policy: PolicyMTASTS})
	if n := len(s.Messages()); n != 1 {
		t.Errorf("sink got %d messages, want 1", n)
	}
}

func ptr[T any](v T) *T { return &v }

// TestRequireTLS: domains in delivery.require_tls_domains get verified TLS
// or nothing, with or without a policy of their own.
func TestRequireTLS(t *testing.T) {
	ca := testkit.NewCA(t)
	good := ca.Issue(t, "mx1.test")
	tests := []struct {
		name   string
		mx1    *tls.Certificate
		policy string // example.net's MTA-STS policy; "" none
		rcpt   string
		want   want
	}{
		{"verified", &good, "", "a@example.net",
			want{status: outcome.Delivered, code: 250, mx: "mx1.test", tls: "TLS1.3", reply: "250", policy: PolicyRequired}},
		{"no STARTTLS", nil, "", "a@example.net",
			want{status: outcome.Transient, mx: "mx1.test", enhanced: "4.7.0", reply: "does not offer STARTTLS; refusing to send mail without TLS (required for example.net by delivery.require_tls_domains)", policy: PolicyRequired}},
		{"self-signed", ptr(testkit.SelfSigned(t, "mx1.test")), "", "a@example.net",
			want{status: outcome.Transient, mx: "mx1.test", enhanced: "4.7.0", reply: "unknown authority", policy: PolicyRequired}},
		{"testing policy does not weaken it", ptr(testkit.SelfSigned(t, "mx1.test")), testingMX1, "a@example.net",
			want{status: outcome.Transient, mx: "mx1.test", enhanced: "4.7.0", reply: "unknown authority", policy: PolicyRequired}},
		{"enforced policy named first", &good, enforceMX1, "a@example.net",
			want{status: outcome.Delivered, code: 250, mx: "mx1.test", tls: "TLS1.3", reply: "250", policy: PolicyMTASTS}},
		{"other domains unaffected", ptr(testkit.SelfSigned(t, "mx1.test")), "", "a@other.example",
			want{status: outcome.Delivered, code: 250, mx: "mx1.test", tls: "TLS1.3", reply: "250", policy: PolicyOpportunistic}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			s := serveSink(t, e.ln2, withTLSIf(tt.mx1))
			e.dns.Add("example.net. MX 10 mx1.test.", "other.example. MX 10 mx1.test.")
			pols := policies{}
			if tt.policy != "" {
				pols["example.net"] = tt.policy
			}
			d := e.deliverer(t, func(c *Config) {
				c.STSPolicies = pols
				c.RequireTLSDomains = []string{"example.net"}
				c.RootCAs = ca.Pool()
			})
			rcpts := []string{tt.rcpt}
			check(t, d.Deliver(context.Background(), message(body, rcpts...)), rcpts, tt.want)
			if got, want := len(s.Messages()) == 1, tt.want.status == outcome.Delivered; got != want {
				t.Errorf("sink has %d messages", len(s.Messages()))
			}
		})
	}
}
