package delivery

import (
	"dkimrelay/relay/outcome"
)

// REQUIRETLS (RFC 8689): a message submitted with MAIL FROM's REQUIRETLS
// goes only to a next hop authenticated by an MTA-STS policy in enforce
// mode or by DANE (section 4.2.1), over TLS, that offers REQUIRETLS
// itself, and it is sent with REQUIRETLS; otherwise it is bounced with
// 5.7.30 (section 5). A message with "TLS-Required: No" (and no
// REQUIRETLS) is delivered without the receivers' TLS policies (section
// 5): STARTTLS when offered, never refused for want of it.

// requireTLSFailure is the permanent outcome of a REQUIRETLS message that
// cannot go to host.
func requireTLSFailure(host, policy, reason string) *outcome.Outcome {
	o := outcome.Local(outcome.Permanent, "5.7.30", "REQUIRETLS: "+reason+
		" (the sender asked for REQUIRETLS, RFC 8689 section 4.2.1)")
	o.MX, o.TLSPolicy = host, policy
	return &o
}

// authenticates reports whether a session under spec authenticates the
// hop as RFC 8689 section 4.2.1 asks: an enforced MTA-STS policy, DANE
// with usable TLSA records, or the smarthost's verified TLS.
func (s *sessionSpec) authenticates() bool {
	switch s.policy {
	case PolicyMTASTS, PolicySmarthost:
		return s.tls.Level == TLSVerifyNames && !s.tls.ReportOnly
	case PolicyDANE:
		return s.tls.Level == TLSVerifyTLSA
	}
	return false
}

// forRequireTLS holds spec to REQUIRETLS when the message asks for it: it
// returns the failure when the hop cannot be authenticated.
func (t *txn) forRequireTLS(spec *sessionSpec) *outcome.Outcome {
	if !t.msg.RequireTLS {
		return nil
	}
	if !spec.authenticates() {
		return requireTLSFailure(spec.hop.host, spec.policy,
			spec.hop.host+" is not authenticated by an MTA-STS policy in enforce mode or by DANE")
	}
	spec.requireTLS = true
	return nil
}
