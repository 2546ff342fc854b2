package tlsrpt

import (
	"slices"
	"strings"
)

// Tally is session counts by policy (domain, type and policy string):
// what a relay gathers between two reports.
type Tally map[string]*PolicyReport

func policyKey(domain, typ string, policy []string) string {
	return domain + "\x00" + typ + "\x00" + strings.Join(policy, "\n")
}

// Add counts one session.
func (t Tally) Add(sess Session) {
	key := policyKey(sess.Domain, sess.PolicyType, sess.PolicyString)
	p := t[key]
	if p == nil {
		p = &PolicyReport{Policy: PolicyDesc{Type: sess.PolicyType, String: sess.PolicyString, Domain: sess.Domain}}
		t[key] = p
	}
	if sess.MXHost != "" && !slices.Contains(p.Policy.MXHost, sess.MXHost) && sess.PolicyType == PolicySTS {
		p.Policy.MXHost = append(p.Policy.MXHost, sess.MXHost)
	}
	if sess.Failure == "" {
		p.Summary.Successful++
		return
	}
	p.Summary.Failed++
	p.addFailures(FailureDetail{ResultType: sess.Failure, ReceivingMXHostname: sess.MXHost,
		ReceivingIP: sess.ReceivingIP, FailedSessionCount: 1})
}

// Reports returns the counts, one PolicyReport per policy.
func (t Tally) Reports() []PolicyReport {
	ps := make([]PolicyReport, 0, len(t))
	for _, p := range t {
		ps = append(ps, *p)
	}
	return ps
}

// Merge adds counts, as another relay gathered them.
func (t Tally) Merge(reports ...PolicyReport) {
	for _, o := range reports {
		key := policyKey(o.Policy.Domain, o.Policy.Type, o.Policy.String)
		p := t[key]
		if p == nil {
			p = &PolicyReport{Policy: PolicyDesc{Type: o.Policy.Type, String: o.Policy.String, Domain: o.Policy.Domain}}
			t[key] = p
		}
		for _, mx := range o.Policy.MXHost {
			if !slices.Contains(p.Policy.MXHost, mx) {
				p.Policy.MXHost = append(p.Policy.MXHost, mx)
			}
		}
		p.Summary.Successful += o.Summary.Successful
		p.Summary.Failed += o.Summary.Failed
		p.addFailures(o.Failures...)
	}
}

// addFailures counts failed sessions, each kind (result, MX host and IP)
// once in the list.
func (p *PolicyReport) addFailures(fs ...FailureDetail) {
next:
	for _, f := range fs {
		for i := range p.Failures {
			g := &p.Failures[i]
			if g.ResultType == f.ResultType && g.ReceivingMXHostname == f.ReceivingMXHostname && g.ReceivingIP == f.ReceivingIP {
				g.FailedSessionCount += f.FailedSessionCount
				continue next
			}
		}
		p.Failures = append(p.Failures, f)
	}
}

// ByDomain returns the counts per policy domain, as a report takes them.
func (t Tally) ByDomain() map[string][]PolicyReport {
	byDomain := map[string][]PolicyReport{}
	for _, p := range t {
		byDomain[p.Policy.Domain] = append(byDomain[p.Policy.Domain], *p)
	}
	return byDomain
}
