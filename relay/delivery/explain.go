package delivery

import (
	"context"
	"fmt"
	"time"

	"dkimrelay/mtasts"
)

// Explanation is what delivery to one domain requires right now, and why:
// what `dkimrelay tls DOMAIN` shows.
type Explanation struct {
	Domain string `json:"domain"`
	// Route is the failure that stops delivery before any MX host (no
	// such domain, a null MX, a failed MX lookup); "" when there are
	// hosts to try.
	Route  string       `json:"route_problem,omitempty"`
	MTASTS *STSFinding  `json:"mta_sts"`
	Listed bool         `json:"require_tls_domains"` // the domain is in delivery.require_tls_domains
	Hosts  []HostPolicy `json:"mx"`
}

// STSFinding is the domain's MTA-STS policy as delivery sees it.
type STSFinding struct {
	Enabled bool   `json:"enabled"` // delivery.mta_sts
	Mode    string `json:"mode,omitempty"`
	// MX are the policy's mx patterns.
	MX      []string  `json:"mx_patterns,omitempty"`
	MaxAge  int64     `json:"max_age,omitempty"` // seconds
	ID      string    `json:"id,omitempty"`
	Fetched time.Time `json:"fetched,omitzero"`
	Expires time.Time `json:"expires,omitzero"`
	Source  string    `json:"source,omitempty"` // "fetched" or "cache"
	URL     string    `json:"url,omitempty"`
	Problem string    `json:"problem,omitempty"`     // what went wrong finding it
	Text    string    `json:"policy_text,omitempty"` // the policy file as served
}

// HostPolicy is the policy one MX host is held to.
type HostPolicy struct {
	Host     string `json:"host"`
	Allowed  bool   `json:"allowed"`    // false: a policy excludes it and it is never tried
	Policy   string `json:"tls_policy"` // the tls_policy a delivery there would carry
	Requires string `json:"requires"`   // in words
	// DANE says what the validated lookups found: TLSA records and
	// whether DNSSEC vouches for them, or why DANE does not apply.
	DANE string   `json:"dane,omitempty"`
	TLSA []string `json:"tlsa,omitempty"` // the usable records the host is held to
}

// Explain says what delivery to domain requires now: its MX hosts, its
// MTA-STS policy and where it came from, and the policy each host is held
// to. It uses the same decisions as Deliver, without connecting to any MX.
func (d *Deliverer) Explain(ctx context.Context, domain string) Explanation {
	t := &txn{d: d, log: d.log}
	ex := Explanation{Domain: domain, MTASTS: &STSFinding{Enabled: d.cfg.STSPolicies != nil}}
	var pol *mtasts.Policy
	if d.cfg.STSPolicies != nil {
		l := d.cfg.STSPolicies.Policy(ctx, domain)
		pol = enforced(l)
		f := ex.MTASTS
		f.Source, f.Problem = l.Source, l.Problem
		if u, ok := d.cfg.STSPolicies.(interface{ URL(string) string }); ok {
			f.URL = u.URL(domain)
		}
		if l.Policy != nil {
			f.Mode, f.MX, f.MaxAge = string(l.Policy.Mode), l.Policy.MX, int64(l.Policy.MaxAge/time.Second)
		}
		if s := l.Stored; s != nil {
			f.ID, f.Fetched, f.Expires, f.Text = s.ID, s.Fetched, s.Expires, s.Text
		}
	}
	for _, r := range d.cfg.RequireTLSDomains {
		ex.Listed = ex.Listed || r == domain
	}
	hops, final := t.route(ctx, domain)
	if final != nil {
		ex.Route = final.Reply
		return ex
	}
	for _, h := range hops {
		spec, _, o := t.hostSpec(ctx, domain, h, pol)
		if o != nil {
			ex.Hosts = append(ex.Hosts, HostPolicy{Host: h.name, Policy: o.TLSPolicy, Requires: "not tried now: " + o.Reply})
			continue
		}
		hp := HostPolicy{Host: h.name, Allowed: true, Policy: spec.policy, Requires: spec.requires(), DANE: spec.dane}
		for _, r := range spec.tls.TLSA {
			hp.TLSA = append(hp.TLSA, fmt.Sprintf("%d %d %d %s", r.Usage, r.Selector, r.MatchingType, r.Certificate))
		}
		ex.Hosts = append(ex.Hosts, hp)
	}
	return ex
}

// requires says in words what a session under s needs.
func (s *sessionSpec) requires() string {
	switch {
	case s.tls.Level == TLSVerifyNames && s.tls.ReportOnly:
		return "STARTTLS when offered; the certificate is checked for " + s.hop.host + " and a failure only logged (testing mode)"
	case s.tls.Level == TLSVerifyTLSA:
		return "STARTTLS, TLS 1.2 or newer, a certificate matching one of the TLSA records; else deferred (" + s.why + ")"
	case s.tls.Level == TLSEncrypt:
		return "STARTTLS, TLS 1.2 or newer, certificate not checked (no usable TLSA record); else deferred (" + s.why + ")"
	case s.tls.Level == TLSVerifyNames:
		return "STARTTLS, TLS 1.2 or newer, a certificate from a trusted root valid for " + s.hop.host + "; else deferred (" + s.why + ")"
	default:
		return "STARTTLS when offered, certificate not checked; plaintext when not offered"
	}
}
