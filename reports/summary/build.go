package summary

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"time"

	"dkimrelay/reports/dmarcrpt"
	"dkimrelay/reports/store"
	"dkimrelay/reports/tlsrpt"
)

// Build sums up reports, which should be those ending at or after
// opt.Since.
func Build(reports []*store.Report, opt Options) *Summary {
	b := &builder{
		opt:       opt,
		egress:    map[netip.Addr]bool{},
		sources:   map[string]*sourceAcc{},
		selectors: map[[2]string]*selectorAcc{},
		tlsPol:    map[[2]string]*TLSPolicy{},
		tlsFail:   map[[3]string]*failureAcc{},
		dmarcOrgs: set{},
		policies:  map[string]*policyAcc{},
		tlsOrgs:   set{},
	}
	b.sum.Egress = []string{}
	for _, a := range opt.Egress {
		if !b.egress[a.Unmap()] {
			b.sum.Egress = append(b.sum.Egress, a.Unmap().String())
		}
		b.egress[a.Unmap()] = true
	}
	b.sum.Domain = opt.Domain
	b.sum.Since = opt.Since
	b.sum.DMARC.Counts = newCounts()
	for _, r := range reports {
		if !opt.Since.IsZero() && r.End.Before(opt.Since) {
			continue
		}
		switch {
		case r.DMARC != nil:
			b.dmarc(r.DMARC)
		case r.TLS != nil:
			b.tls(r.TLS)
		}
	}
	return b.finish()
}

type set map[string]bool

func (s set) sorted() []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b string) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a), strings.ToLower(b)), cmp.Compare(a, b))
	})
	return out
}

type sourceAcc struct {
	Source
	from, orgs set
}

type selectorAcc struct {
	Selector
	sources set
}

type policyAcc struct {
	Policy
	orgs set
}

type failureAcc struct {
	TLSFailure
	orgs, details set
}

type builder struct {
	opt       Options
	egress    map[netip.Addr]bool
	sum       Summary
	sources   map[string]*sourceAcc
	selectors map[[2]string]*selectorAcc
	tlsPol    map[[2]string]*TLSPolicy
	tlsFail   map[[3]string]*failureAcc
	dmarcOrgs set
	tlsOrgs   set
	policies  map[string]*policyAcc // by Policy.String()
}

// within reports whether name is the domain d or one of its sub-domains.
func within(name, d string) bool {
	return d == "" || name == d || strings.HasSuffix(name, "."+d)
}

func (b *builder) dmarc(f *dmarcrpt.Feedback) {
	counted := false
	for _, rec := range f.Records {
		if !within(rec.HeaderFrom, b.opt.Domain) {
			continue
		}
		if !counted {
			counted = true
			b.sum.DMARC.Reports++
			b.dmarcOrgs[f.Metadata.OrgName] = true
			b.widen(f.Metadata.Begin, f.Metadata.End)
			pp := f.Policy
			pol := withDefaults(Policy{Domain: pp.Domain, P: pp.P, SP: pp.SP, Pct: pp.Pct, ADKIM: pp.ADKIM, ASPF: pp.ASPF})
			a := b.policies[pol.String()]
			if a == nil {
				a = &policyAcc{Policy: pol, orgs: set{}}
				b.policies[pol.String()] = a
			}
			a.orgs[f.Metadata.OrgName] = true
		}
		b.record(f, rec)
	}
}

func (b *builder) widen(begin, end time.Time) {
	d := &b.sum.DMARC
	if d.Begin.IsZero() || begin.Before(d.Begin) {
		d.Begin = begin
	}
	if end.After(d.End) {
		d.End = end
	}
}

func (b *builder) record(f *dmarcrpt.Feedback, rec dmarcrpt.Record) {
	s := b.sources[rec.SourceIP]
	if s == nil {
		addr, _ := netip.ParseAddr(rec.SourceIP)
		s = &sourceAcc{Source: Source{IP: rec.SourceIP, Egress: b.egress[addr.Unmap()], Counts: newCounts()}, from: set{}, orgs: set{}}
		b.sources[rec.SourceIP] = s
	}
	s.Messages += rec.Count
	s.from[rec.HeaderFrom] = true
	s.orgs[f.Metadata.OrgName] = true
	b.sum.DMARC.Messages += rec.Count
	for _, c := range []Counts{s.Counts, b.sum.DMARC.Counts} {
		dmarc := "fail"
		if rec.DMARCPass() {
			dmarc = "pass"
		}
		c.DMARC[dmarc] += rec.Count
		c.SPF[orNone(rec.SPF)] += rec.Count
		c.DKIM[orNone(rec.DKIM)] += rec.Count
		c.Disposition[rec.Disposition] += rec.Count
	}
	for _, sig := range rec.AuthDKIM {
		// Signatures of other domains (a mailing list's, a provider's)
		// say nothing about this domain's keys.
		if sig.Selector == "" || !within(sig.Domain, f.Policy.Domain) || !within(sig.Domain, b.opt.Domain) {
			continue
		}
		b.selector(f, rec, sig)
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func (b *builder) selector(f *dmarcrpt.Feedback, rec dmarcrpt.Record, sig dmarcrpt.DKIMResult) {
	k := [2]string{sig.Domain, strings.ToLower(sig.Selector)}
	a := b.selectors[k]
	if a == nil {
		a = &selectorAcc{Selector: Selector{Domain: k[0], Selector: k[1], Results: map[string]int{}, Begin: f.Metadata.Begin, End: f.Metadata.End}, sources: set{}}
		b.selectors[k] = a
	}
	a.Messages += rec.Count
	a.Results[orNone(sig.Result)] += rec.Count
	a.sources[rec.SourceIP] = true
	if f.Metadata.Begin.Before(a.Begin) {
		a.Begin = f.Metadata.Begin
	}
	if f.Metadata.End.After(a.End) {
		a.End = f.Metadata.End
	}
}

func (b *builder) tls(r *tlsrpt.Report) {
	counted := false
	for _, p := range r.Policies {
		if !within(p.Domain, b.opt.Domain) {
			continue
		}
		if !counted {
			counted = true
			b.sum.TLS.Reports++
			b.tlsOrgs[r.OrganizationName] = true
		}
		pk := [2]string{p.Domain, p.Type}
		pol := b.tlsPol[pk]
		if pol == nil {
			pol = &TLSPolicy{Domain: p.Domain, Type: p.Type}
			b.tlsPol[pk] = pol
		}
		pol.Successful += p.Successful
		pol.Failed += p.Failed
		for _, fd := range p.Failures {
			mx := fd.ReceivingMXHostname
			if mx == "" {
				mx = fd.ReceivingIP
			}
			fk := [3]string{p.Domain, mx, fd.ResultType}
			a := b.tlsFail[fk]
			if a == nil {
				a = &failureAcc{TLSFailure: TLSFailure{Domain: fk[0], MX: fk[1], ResultType: fk[2]}, orgs: set{}, details: set{}}
				b.tlsFail[fk] = a
			}
			a.Sessions += fd.FailedSessions
			a.orgs[r.OrganizationName] = true
			for _, d := range []string{fd.FailureReasonCode, fd.AdditionalInfo} {
				if d != "" {
					a.details[d] = true
				}
			}
		}
	}
}

// withDefaults fills in what a reporter left out with the defaults of RFC
// 7489 section 6.3, so that reporters that write the same record the long
// and the short way count as seeing one policy.
func withDefaults(p Policy) Policy {
	if p.SP == "" {
		p.SP = p.P
	}
	if p.Pct == 0 {
		p.Pct = 100
	}
	if p.ADKIM == "" {
		p.ADKIM = "r"
	}
	if p.ASPF == "" {
		p.ASPF = "r"
	}
	return p
}
