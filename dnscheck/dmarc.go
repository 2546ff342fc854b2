package dnscheck

import (
	"context"
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/dmarc"

	"dkimrelay/authcheck"
)

func checkDMARC(ctx context.Context, r *Report, o Options) {
	org := authcheck.OrgDomain(o.Domain)
	suggest := fmt.Sprintf("_dmarc.%s. IN TXT %s", org, quoteTXT("v=DMARC1; p=none; rua=mailto:postmaster@"+org))
	names := []string{o.Domain}
	if org != o.Domain {
		names = append(names, org)
	}
	// RFC 7489 section 6.6.3: the record at the From: domain, else the
	// one at its organizational domain.
	for _, name := range names {
		at := "_dmarc." + name
		txts, err := o.Resolver.LookupTXT(ctx, at)
		if err != nil {
			if p, notFound := lookupProblem(err); !notFound {
				r.add(Result{Check: "dmarc", Status: Fail, Required: true, Message: p})
				return
			}
		}
		var records []string
		for _, t := range txts {
			if strings.HasPrefix(t, "v=DMARC1") {
				records = append(records, t)
			}
		}
		switch {
		case len(records) == 0:
			continue
		case len(records) > 1:
			r.add(Result{Check: "dmarc", Status: Fail, Required: true, Message: fmt.Sprintf(
				"%s holds %d DMARC records, so receivers apply none (RFC 7489 section 6.6.3): keep one", at, len(records))})
			return
		}
		rec, err := dmarc.Parse(records[0])
		if err != nil {
			r.add(Result{Check: "dmarc", Status: Fail, Required: true, Record: suggest, Message: fmt.Sprintf(
				"the DMARC record at %s, %s, is invalid (%s), so receivers ignore it", at, quoteTXT(records[0]), strings.TrimPrefix(err.Error(), "dmarc: "))})
			return
		}
		r.add(dmarcResult(o.Domain, name, records[0], rec))
		return
	}
	r.add(Result{Check: "dmarc", Status: Fail, Required: true, Record: suggest, Message: fmt.Sprintf(
		"no DMARC record at _dmarc.%s: large receivers expect one from every sender, and without it no report says what fails", strings.Join(names, " nor at _dmarc."))})
}

func dmarcResult(domain, at, text string, rec *dmarc.Record) Result {
	res := Result{Check: "dmarc", Status: Pass, Required: true}
	policy := rec.Policy
	if at != domain && rec.SubdomainPolicy != "" {
		policy = rec.SubdomainPolicy
	}
	var b strings.Builder
	fmt.Fprintf(&b, "_dmarc.%s publishes %s: policy %s", at, quoteTXT(text), policy)
	if at != domain {
		fmt.Fprintf(&b, " for %s as a subdomain of %s", domain, at)
	}
	fmt.Fprintf(&b, ", DKIM alignment %s, SPF alignment %s", modeName(rec.DKIMAlignment), modeName(rec.SPFAlignment))
	if rec.SPFAlignment == dmarc.AlignmentStrict {
		fmt.Fprintf(&b, " (MAIL FROM must be in %s itself)", domain)
	}
	if len(rec.ReportURIAggregate) > 0 {
		fmt.Fprintf(&b, ", reports to %s", strings.Join(rec.ReportURIAggregate, ", "))
	}
	if policy == dmarc.PolicyNone {
		b.WriteString("; p=none only asks for reports: once they show every message passing, move to p=quarantine, then p=reject")
	}
	if len(rec.ReportURIAggregate) == 0 {
		res.Status = Warning
		fixed := strings.TrimRight(strings.TrimSpace(text), ";") + "; rua=mailto:postmaster@" + at
		res.Record = fmt.Sprintf("_dmarc.%s. IN TXT %s", at, quoteTXT(fixed))
		b.WriteString("; no rua= tag, so no aggregate report ever says which mail fails")
	}
	res.Message = b.String()
	return res
}

func modeName(m dmarc.AlignmentMode) string {
	if m == dmarc.AlignmentStrict {
		return "strict"
	}
	return "relaxed"
}
