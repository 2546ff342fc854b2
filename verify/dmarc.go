package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/dmarc"

	"dkimrelay/authcheck"
)

// DMARC is the outcome of DMARC for the From: domain (RFC 7489 section
// 4.2): pass when a passing DKIM signature or a passing SPF check is for a
// domain aligned with it.
type DMARC struct {
	Status Status `json:"status"`
	Domain string `json:"domain,omitempty"`
	// Policy is what the receiver is asked to do with failing mail:
	// none, quarantine or reject ("" without a record).
	Policy      string `json:"policy,omitempty"`
	Record      string `json:"record,omitempty"` // where the record was found
	DKIMAligned bool   `json:"dkim_aligned"`
	SPFAligned  bool   `json:"spf_aligned"`
	Explanation string `json:"explanation"`
}

func (v *Verifier) checkDMARC(ctx context.Context, r *Report) DMARC {
	out := DMARC{Domain: r.FromDomain}
	switch {
	case v.Resolver == nil:
		out.Status, out.Explanation = StatusSkipped, "not checked: DMARC needs DNS"
		return out
	case r.FromDomain == "":
		out.Status, out.Explanation = StatusFail, "the message has no From: field with an address, which DMARC requires (RFC 7489 section 6.6.1)"
		return out
	}
	policy, err := authcheck.LookupDMARC(ctx, v.Resolver.LookupTXT, r.FromDomain)
	switch {
	case errors.Is(err, authcheck.ErrDMARCTemporary):
		out.Status, out.Explanation = StatusFail, fmt.Sprintf("the DMARC record could not be looked up now (%v); try again, and check dns.servers", err)
		return out
	case err != nil:
		policy = nil
	}
	adkim, aspf := dmarc.AlignmentMode(dmarc.AlignmentRelaxed), dmarc.AlignmentMode(dmarc.AlignmentRelaxed)
	if policy != nil {
		adkim, aspf = policy.Record.DKIMAlignment, policy.Record.SPFAlignment
		out.Record = policy.At
		out.Policy = string(policy.Record.Policy)
		if policy.At != "_dmarc."+r.FromDomain && policy.Record.SubdomainPolicy != "" {
			out.Policy = string(policy.Record.SubdomainPolicy)
		}
	}
	var passing, why []string
	for _, s := range r.DKIM {
		if s.Kind != Pass {
			continue
		}
		passing = append(passing, s.Domain)
		if authcheck.Aligned(s.Domain, r.FromDomain, adkim) {
			out.DKIMAligned = true
		}
	}
	switch {
	case out.DKIMAligned:
	case len(passing) == 0:
		why = append(why, "no DKIM signature passes")
	default:
		why = append(why, fmt.Sprintf("the passing DKIM signature is by d=%s, which does not align with %s (%s)", strings.Join(passing, ", d="), r.FromDomain, modeName("adkim", adkim)))
	}
	if r.SPF.Status == StatusPass {
		out.SPFAligned = authcheck.Aligned(r.SPF.Domain, r.FromDomain, aspf)
		if !out.SPFAligned {
			why = append(why, fmt.Sprintf("SPF passes for %s, which does not align with %s (%s)", r.SPF.Domain, r.FromDomain, modeName("aspf", aspf)))
		}
	} else {
		why = append(why, "SPF does not pass")
	}
	aligned := out.DKIMAligned || out.SPFAligned
	switch {
	case errors.Is(err, authcheck.ErrNoDMARC), errors.Is(err, authcheck.ErrDMARCInvalid):
		out.Status = StatusNone
		out.Explanation = fmt.Sprintf("%v, so receivers apply no DMARC policy; large providers expect one from senders: publish _dmarc.%s TXT \"v=DMARC1; p=none\" and tighten it once reports show only your mail", err, authcheck.OrgDomain(r.FromDomain))
		if !aligned {
			out.Explanation += "; with one, this message would fail: " + strings.Join(why, "; ")
		}
	case aligned:
		out.Status = StatusPass
		via := "DKIM"
		if !out.DKIMAligned {
			via = "SPF (no aligned DKIM signature: a forwarded copy would fail)"
		}
		out.Explanation = fmt.Sprintf("%s aligns with %s under the record at %s (p=%s)", via, r.FromDomain, out.Record, out.Policy)
	default:
		out.Status = StatusFail
		out.Explanation = fmt.Sprintf("neither DKIM nor SPF passes for a domain aligned with %s: %s. The record at %s asks receivers to %s", r.FromDomain, strings.Join(why, "; "), out.Record, policyAction(out.Policy))
	}
	return out
}

func modeName(tag string, m dmarc.AlignmentMode) string {
	if m == dmarc.AlignmentStrict {
		return tag + "=s: the very same domain"
	}
	return tag + "=r: the same organizational domain"
}

func policyAction(p string) string {
	switch p {
	case "reject":
		return "refuse such mail (p=reject)"
	case "quarantine":
		return "put such mail in spam (p=quarantine)"
	}
	return "deliver such mail and report it (p=none)"
}
