package delivery

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"dkimrelay/internal/testkit"
	"dkimrelay/relay/outcome"
)

// TestDANE delivers to MX hosts whose MX, address and TLSA answers carry
// the AD bit of the (loopback, so trusted) test resolver, as a validating
// resolver's do for a signed zone (RFC 7672).
func TestDANE(t *testing.T) {
	ca := testkit.NewCA(t)
	good := ca.Issue(t, "mx.signed.example")
	self := testkit.SelfSigned(t, "whatever.example")
	other := ca.Issue(t, "mx.signed.example")
	tests := []struct {
		name    string
		mx      *tls.Certificate // nil: no STARTTLS
		tlsa    []*dns.TLSA      // at _PORT._tcp.mx.signed.example
		insec   bool             // the zone is not signed
		bogus   bool             // the TLSA answer fails validation
		policy  string           // signed.example's MTA-STS policy
		daneOff bool
		want    want
	}{
		{"DANE-EE match", &self, []*dns.TLSA{testkit.TLSA(t, "x", 3, 1, 1, self.Leaf)}, false, false, "", false,
			want{status: outcome.Delivered, code: 250, mx: "mx.signed.example", tls: "TLS1.3", reply: "250", policy: PolicyDANE}},
		{"DANE-TA match", &good, []*dns.TLSA{testkit.TLSA(t, "x", 2, 0, 1, ca.Cert())}, false, false, "", false,
			want{status: outcome.Delivered, code: 250, mx: "mx.signed.example", tls: "TLS1.3", reply: "250", policy: PolicyDANE}},
		{"TLSA mismatch", &good, []*dns.TLSA{testkit.TLSA(t, "x", 3, 1, 1, other.Leaf)}, false, false, "", false,
			want{status: outcome.Transient, mx: "mx.signed.example", enhanced: "4.7.0", reply: "TLSA mismatch", policy: PolicyDANE}},
		{"STARTTLS stripped", nil, []*dns.TLSA{testkit.TLSA(t, "x", 3, 1, 1, good.Leaf)}, false, false, "", false,
			want{status: outcome.Transient, mx: "mx.signed.example", enhanced: "4.7.0", reply: "does not offer STARTTLS; refusing to send mail without TLS (required by the DNSSEC-signed TLSA records of mx.signed.example)", policy: PolicyDANE}},
		{"bogus TLSA answer", &good, []*dns.TLSA{testkit.TLSA(t, "x", 3, 1, 1, good.Leaf)}, false, true, "", false,
			want{status: outcome.Transient, mx: "mx.signed.example", enhanced: "4.7.5", reply: "TLSA lookup for", policy: PolicyDANE}},
		{"only unusable records: TLS without authentication", &self, []*dns.TLSA{testkit.TLSA(t, "x", 1, 1, 1, good.Leaf)}, false, false, "", false,
			want{status: outcome.Delivered, code: 250, mx: "mx.signed.example", tls: "TLS1.3", reply: "250", policy: PolicyDANE}},
		{"only unusable records, no STARTTLS", nil, []*dns.TLSA{testkit.TLSA(t, "x", 1, 1, 1, good.Leaf)}, false, false, "", false,
			want{status: outcome.Transient, mx: "mx.signed.example", reply: "does not offer STARTTLS", policy: PolicyDANE}},
		{"insecure zone: opportunistic", &self, []*dns.TLSA{testkit.TLSA(t, "x", 3, 1, 1, other.Leaf)}, true, false, "", false,
			want{status: outcome.Delivered, code: 250, mx: "mx.signed.example", tls: "TLS1.3", reply: "250", policy: PolicyOpportunistic}},
		{"no TLSA records: opportunistic", &self, nil, false, false, "", false,
			want{status: outcome.Delivered, code: 250, mx: "mx.signed.example", tls: "TLS1.3", reply: "250", policy: PolicyOpportunistic}},
		{"DANE before MTA-STS", &self, []*dns.TLSA{testkit.TLSA(t, "x", 3, 1, 1, self.Leaf)}, false, false,
			"version: STSv1\nmode: enforce\nmx: elsewhere.example\nmax_age: 86400\n", false,
			want{status: outcome.Delivered, code: 250, mx: "mx.signed.example", tls: "TLS1.3", reply: "250", policy: PolicyDANE}},
		{"DANE off", &self, []*dns.TLSA{testkit.TLSA(t, "x", 3, 1, 1, other.Leaf)}, false, false, "", true,
			want{status: outcome.Delivered, code: 250, mx: "mx.signed.example", tls: "TLS1.3", reply: "250", policy: PolicyOpportunistic}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			s := serveSink(t, e.ln2, withTLSIf(tt.mx))
			owner := fmt.Sprintf("_%d._tcp.mx.signed.example.", e.port)
			e.dns.Add("signed.example. MX 10 mx.signed.example.", "mx.signed.example. A 127.0.0.2")
			for _, r := range tt.tlsa {
				r.Hdr.Name = owner
				e.dns.Add(r.String())
			}
			if !tt.insec {
				e.dns.SetSecure("signed.example")
			}
			if tt.bogus {
				e.dns.SetServfail(owner)
			}
			pols := policies{}
			if tt.policy != "" {
				pols["signed.example"] = tt.policy
			}
			d := e.deliverer(t, func(c *Config) {
				c.STSPolicies = pols
				if !tt.daneOff {
					c.DANEResolver = e.res
				}
			})
			rcpts := []string{"a@signed.example"}
			check(t, d.Deliver(context.Background(), message(body, rcpts...)), rcpts, tt.want)
			if got, want := len(s.Messages()), tt.want.status == outcome.Delivered; (got == 1) != want {
				t.Errorf("sink has %d messages", got)
			}
			if tt.want.status != outcome.Delivered && !strings.Contains(tt.want.reply, "TLSA lookup") && tt.mx != nil && len(s.Messages()) > 0 {
				t.Error("a message reached a server DANE refused")
			}
		})
	}
}
