package delivery

import (
	"fmt"
	"strings"

	"dkimrelay/relay/outcome"
	"dkimrelay/tlsrpt"
)

// SessionReporter counts outbound TLS sessions for SMTP TLS Reporting
// (RFC 8460); *tlsrpt.Store satisfies it.
type SessionReporter interface {
	Record(tlsrpt.Session)
}

// reportSession counts a session to an MX host for TLS reporting: its
// policy, and the failure when it failed for TLS. o is nil for a session
// that opened; problem is what a testing-mode policy found wrong.
func (t *txn) reportSession(spec *sessionSpec, o *outcome.Outcome, problem string) {
	r := t.d.cfg.TLSReporter
	if r == nil || spec.domain == "" {
		return
	}
	s := tlsrpt.Session{Domain: spec.domain, MXHost: spec.hop.host}
	if spec.hop.ip != nil {
		s.ReceivingIP = spec.hop.ip.String()
	}
	switch spec.policy {
	case PolicyMTASTS, PolicyMTASTSTesting:
		s.PolicyType, s.PolicyString = tlsrpt.PolicySTS, spec.stsLines
	case PolicyDANE:
		s.PolicyType = tlsrpt.PolicyTLSA
		for _, rr := range spec.tls.TLSA {
			s.PolicyString = append(s.PolicyString, fmt.Sprintf("%d %d %d %s", rr.Usage, rr.Selector, rr.MatchingType, rr.Certificate))
		}
	default:
		s.PolicyType = tlsrpt.PolicyNone
	}
	switch {
	case o != nil:
		if s.Failure = tlsrpt.ResultOf(o.Reply); s.Failure == "" {
			return // not a TLS failure: no session to report
		}
	case problem != "":
		s.Failure = tlsrpt.ResultOf(problem)
		if s.Failure == "" {
			s.Failure = tlsrpt.ResultValidationFailure
		}
	}
	r.Record(s)
}

// stsLines is an MTA-STS policy as the policy-string of a report (RFC 8460
// section 4.4: one string per line).
func stsLines(text string) []string {
	return strings.Split(strings.TrimSpace(text), "\n")
}
