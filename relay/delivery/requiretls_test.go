package delivery

import (
	"context"
	"fmt"
	"testing"

	"dkimrelay/internal/testkit"
	"dkimrelay/relay/outcome"
)

// TestREQUIRETLS delivers messages submitted with REQUIRETLS (RFC 8689):
// only to hosts an enforced MTA-STS policy or DANE authenticates, that
// offer REQUIRETLS, with REQUIRETLS on MAIL FROM; else bounced with
// 5.7.30. "TLS-Required: No" sets the receivers' policies aside.
func TestREQUIRETLS(t *testing.T) {
	ca := testkit.NewCA(t)
	good := ca.Issue(t, "mx1.test")
	tests := []struct {
		name        string
		policy      string // example.net's MTA-STS policy
		starttls    bool
		requiretls  bool // the server offers REQUIRETLS
		dane        bool // example.net is signed, with a matching DANE-EE record for mx1.test
		tlsOptional bool // TLS-Required: No instead of REQUIRETLS
		want        want
	}{
		{"no policy", "", true, true, false, false,
			want{status: outcome.Permanent, mx: "mx1.test", enhanced: "5.7.30", reply: "mx1.test is not authenticated by an MTA-STS policy in enforce mode or by DANE"}},
		{"MTA-STS enforce, server offers REQUIRETLS", enforceMX1, true, true, false, false,
			want{status: outcome.Delivered, code: 250, mx: "mx1.test", tls: "TLS1.3", reply: "250", policy: PolicyMTASTS}},
		{"MTA-STS enforce, server without REQUIRETLS", enforceMX1, true, false, false, false,
			want{status: outcome.Permanent, mx: "mx1.test", tls: "TLS1.3", enhanced: "5.7.30", reply: "does not offer REQUIRETLS", policy: PolicyMTASTS}},
		{"MTA-STS testing is no authentication", testingMX1, true, true, false, false,
			want{status: outcome.Permanent, mx: "mx1.test", enhanced: "5.7.30", reply: "not authenticated"}},
		{"DANE, server offers REQUIRETLS", "", true, true, true, false,
			want{status: outcome.Delivered, code: 250, mx: "mx1.test", tls: "TLS1.3", reply: "250", policy: PolicyDANE}},
		{"TLS-Required: No under an enforced policy, no STARTTLS", enforceMX1, false, false, false, true,
			want{status: outcome.Delivered, code: 250, mx: "mx1.test", tls: "", reply: "250", policy: PolicyNone}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			var opts []sinkOption
			if tt.starttls {
				opts = append(opts, withTLS(good))
			}
			if tt.requiretls {
				opts = append(opts, withREQUIRETLS())
			}
			s := serveSink(t, e.ln2, opts...)
			domain, mx := "example.net", "mx1.test"
			if tt.dane {
				domain, mx = "signed.example", "mx.signed.example"
				e.dns.Add("signed.example. MX 10 mx.signed.example.", "mx.signed.example. A 127.0.0.2")
				r := testkit.TLSA(t, fmt.Sprintf("_%d._tcp.mx.signed.example", e.port), 3, 1, 1, good.Leaf)
				e.dns.Add(r.String())
				e.dns.SetSecure("signed.example")
				tt.want.mx = mx
			} else {
				e.dns.Add("example.net. MX 10 mx1.test.")
			}
			pols := policies{}
			if tt.policy != "" {
				pols[domain] = tt.policy
			}
			d := e.deliverer(t, func(c *Config) {
				c.STSPolicies = pols
				c.DANEResolver = e.res
				c.RootCAs = ca.Pool()
			})
			rcpts := []string{"a@" + domain}
			m := message(body, rcpts...)
			m.RequireTLS, m.TLSOptional = !tt.tlsOptional, tt.tlsOptional
			check(t, d.Deliver(context.Background(), m), rcpts, tt.want)
			got := s.Messages()
			if tt.want.status != outcome.Delivered {
				if len(got) != 0 {
					t.Errorf("sink got %d messages", len(got))
				}
				return
			}
			if len(got) != 1 || got[0].Opts.RequireTLS != !tt.tlsOptional {
				t.Errorf("sink got %+v, want one message with REQUIRETLS=%v", got, !tt.tlsOptional)
			}
		})
	}
}

// TestREQUIRETLSPooledSession: a session kept from a message without
// REQUIRETLS is not taken for one with it when the server does not offer
// REQUIRETLS.
func TestREQUIRETLSPooledSession(t *testing.T) {
	ca := testkit.NewCA(t)
	e := newEnv(t)
	e.dns.Add("example.net. MX 10 mx1.test.")
	s := serveSink(t, e.ln2, withTLS(ca.Issue(t, "mx1.test")))
	d := e.deliverer(t, func(c *Config) {
		c.STSPolicies = policies{"example.net": enforceMX1}
		c.RootCAs = ca.Pool()
	})
	defer d.Close()
	rcpts := []string{"a@example.net"}
	check(t, d.Deliver(context.Background(), message(body, rcpts...)), rcpts,
		want{status: outcome.Delivered, code: 250, mx: "mx1.test", tls: "TLS1.3", reply: "250", policy: PolicyMTASTS})
	m := message(body, rcpts...)
	m.RequireTLS = true
	check(t, d.Deliver(context.Background(), m), rcpts,
		want{status: outcome.Permanent, mx: "mx1.test", tls: "TLS1.3", enhanced: "5.7.30", reply: "does not offer REQUIRETLS", policy: PolicyMTASTS})
	if n := len(s.Messages()); n != 1 {
		t.Errorf("sink got %d messages, want 1", n)
	}
}
