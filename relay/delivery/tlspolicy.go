package delivery

import (
	"context"
	"slices"
	"strings"

	"dkimrelay/config"
	"dkimrelay/events"
	"dkimrelay/mtasts"
	"dkimrelay/relay/outcome"
)

// MTASTSPolicies finds receiving domains' MTA-STS policies;
// *mtasts.Cache satisfies it.
type MTASTSPolicies interface {
	Policy(ctx context.Context, domain string) mtasts.Lookup
}

// Values of tls_policy: the TLS policy a session to an MX host was held
// to. docs/tls.md explains each.
const (
	PolicyNone          = "none"            // no policy, and the server offered no TLS
	PolicyOpportunistic = "opportunistic"   // no policy; STARTTLS, certificate unchecked
	PolicyMTASTS        = "mta-sts"         // the domain's MTA-STS policy in enforce mode
	PolicyMTASTSTesting = "mta-sts-testing" // its policy in testing mode: checked, never refused
	PolicyRequired      = "required"        // delivery.require_tls_domains: verified TLS
	PolicySmarthost     = "smarthost"       // the smarthost, TLS verified
)

// mxPolicy is what delivery to domain's MX hosts is held to, found once per
// attempt: its MTA-STS policy in enforce or testing mode, or nil.
func (t *txn) mxPolicy(ctx context.Context, domain string) *mtasts.Policy {
	if t.d.cfg.STSPolicies == nil {
		return nil
	}
	return enforced(t.d.cfg.STSPolicies.Policy(ctx, domain))
}

// enforced is the policy of l when it is one delivery applies: in enforce
// or testing mode.
func enforced(l mtasts.Lookup) *mtasts.Policy {
	if l.Policy == nil || l.Policy.Mode == mtasts.None {
		return nil
	}
	return l.Policy
}

// mxSpec is the session to MX host host (its address set later) under
// the domain's policy pol. An MX host an enforced policy does not list
// gets no session: the outcome says why (RFC 8461 section 4.1).
func (t *txn) mxSpec(domain, host string, pol *mtasts.Policy) (*sessionSpec, *outcome.Outcome) {
	spec := &sessionSpec{
		hop:    target{kind: config.ModeMX, host: host, port: t.d.mxPort},
		tls:    TLSRequirement{Level: TLSOpportunistic},
		policy: PolicyOpportunistic,
		domain: domain,
	}
	if pol != nil {
		spec.stsLines = stsLines(pol.String())
	}
	defer t.requireTLS(domain, spec)
	if pol == nil {
		return spec, nil
	}
	listed := pol.Matches(host)
	switch pol.Mode {
	case mtasts.Enforce:
		if !listed {
			o := outcome.Local(outcome.Transient, "4.7.0", "MX host "+host+" is not one the MTA-STS policy of "+domain+
				" allows (mx: "+strings.Join(pol.MX, ", ")+")")
			o.MX, o.TLSPolicy = host, PolicyMTASTS
			spec.policy = PolicyMTASTS
			t.reportSession(spec, &o, "")
			return nil, &o
		}
		// RFC 8461 section 4.2: TLS 1.2 or newer, a certificate that
		// chains to a trusted root and is valid for the MX host name.
		spec.tls = TLSRequirement{Level: TLSVerifyNames, Names: []string{host}}
		spec.policy = PolicyMTASTS
		spec.why = "required by the MTA-STS policy of " + domain
	case mtasts.Testing:
		if !listed {
			events.TLSPolicyTestingFailure{MX: host, Policy: PolicyMTASTSTesting,
				Problem: "not in the policy's mx list"}.Log(t.log)
		}
		spec.tls = TLSRequirement{Level: TLSVerifyNames, Names: []string{host}, ReportOnly: true}
		spec.policy = PolicyMTASTSTesting
	}
	return spec, nil
}

// requireTLS holds spec to verified TLS for a domain the administrator
// listed, unless an enforced policy already does.
func (t *txn) requireTLS(domain string, spec *sessionSpec) {
	if spec == nil || spec.policy == PolicyMTASTS || spec.policy == PolicyDANE || t.msg.TLSOptional || !slices.Contains(t.d.cfg.RequireTLSDomains, domain) {
		return
	}
	spec.tls = TLSRequirement{Level: TLSVerifyNames, Names: []string{spec.hop.host}}
	spec.policy = PolicyRequired
	spec.why = "required for " + domain + " by delivery.require_tls_domains"
}

// refusingPolicy is spec's policy when it is one that can stop a delivery,
// for the tls_policy of a failure; "" for policies that never refuse.
func (s *sessionSpec) refusingPolicy() string {
	if s.tls.refuses() {
		return s.policy
	}
	return ""
}
