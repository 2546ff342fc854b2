package summary

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// classRank orders the source classes: what needs a look first.
var classRank = map[string]int{Unknown: 0, OwnFailing: 1, Own: 2}

func (b *builder) finish() *Summary {
	s := &b.sum
	s.DMARC.Reporters = b.dmarcOrgs.sorted()
	s.TLS.Reporters = b.tlsOrgs.sorted()
	s.DMARC.Policies = []Policy{}
	for _, a := range b.policies {
		p := a.Policy
		p.Reporters = a.orgs.sorted()
		s.DMARC.Policies = append(s.DMARC.Policies, p)
	}
	slices.SortFunc(s.DMARC.Policies, func(x, y Policy) int {
		return cmp.Or(cmp.Compare(x.Domain, y.Domain), cmp.Compare(x.String(), y.String()))
	})
	s.DMARC.Sources = []Source{}
	for _, a := range b.sources {
		src := a.Source
		src.HeaderFrom = a.from.sorted()
		src.Reporters = a.orgs.sorted()
		switch {
		case !src.Egress:
			src.Class = Unknown
			s.DMARC.UnknownSources++
		case src.Counts.SPF["fail"] > 0 || src.Counts.DKIM["fail"] > 0:
			src.Class = OwnFailing
		default:
			src.Class = Own
		}
		src.Finding = sourceFinding(src)
		s.DMARC.Sources = append(s.DMARC.Sources, src)
	}
	slices.SortFunc(s.DMARC.Sources, func(x, y Source) int {
		return cmp.Or(cmp.Compare(classRank[x.Class], classRank[y.Class]),
			cmp.Compare(y.Counts.DMARC["fail"], x.Counts.DMARC["fail"]),
			cmp.Compare(y.Messages, x.Messages), cmp.Compare(x.IP, y.IP))
	})

	keys := map[[2]string]Key{}
	for _, k := range b.opt.Keys {
		keys[[2]string{strings.ToLower(k.Domain), strings.ToLower(k.Selector)}] = k
	}
	s.Selectors = []Selector{}
	for k, a := range b.selectors {
		sel := a.Selector
		sel.Sources = a.sources.sorted()
		key, ok := keys[k]
		switch {
		case !ok:
			sel.State, sel.Finding = "none", SelectorUnknown
		case key.State == "retiring" && !key.Retired.IsZero() && sel.End.After(key.Retired.Add(retiredGrace)):
			sel.State, sel.Finding = key.State, SelectorRetired
		default:
			sel.State, sel.Finding = key.State, SelectorOK
		}
		s.Selectors = append(s.Selectors, sel)
	}
	slices.SortFunc(s.Selectors, func(x, y Selector) int {
		return cmp.Or(cmp.Compare(findingRank(x.Finding), findingRank(y.Finding)),
			cmp.Compare(x.Domain, y.Domain), cmp.Compare(x.Selector, y.Selector))
	})

	s.TLS.Policies = []TLSPolicy{}
	for _, p := range b.tlsPol {
		s.TLS.Policies = append(s.TLS.Policies, *p)
	}
	slices.SortFunc(s.TLS.Policies, func(x, y TLSPolicy) int {
		return cmp.Or(cmp.Compare(x.Domain, y.Domain), cmp.Compare(x.Type, y.Type))
	})
	s.TLS.Failures = []TLSFailure{}
	for _, a := range b.tlsFail {
		f := a.TLSFailure
		f.Reporters = a.orgs.sorted()
		f.Details = a.details.sorted()
		if len(f.Details) == 0 {
			f.Details = nil
		}
		s.TLS.Failures = append(s.TLS.Failures, f)
	}
	slices.SortFunc(s.TLS.Failures, func(x, y TLSFailure) int {
		return cmp.Or(cmp.Compare(y.Sessions, x.Sessions), cmp.Compare(x.Domain, y.Domain),
			cmp.Compare(x.MX, y.MX), cmp.Compare(x.ResultType, y.ResultType))
	})
	return s
}

// sourceFinding reads a source's aligned results.
func sourceFinding(src Source) string {
	c, n := src.Counts, src.Messages
	spfPass, dkimPass := c.SPF["pass"], c.DKIM["pass"]
	if src.Class == Unknown {
		switch {
		case c.DMARC["pass"] == 0:
			return SourceForged
		case dkimPass == n && spfPass == n:
			return SourceAuthorized
		case dkimPass > 0 && spfPass == 0:
			return SourceDKIMOnly
		case spfPass > 0 && dkimPass == 0:
			return SourceSPFOnly
		}
		return SourceAuthorized
	}
	switch {
	case src.Class == Own:
		return ""
	case spfPass == 0:
		return SourceSPFFails
	case dkimPass == 0:
		return SourceDKIMFails
	}
	return SourceSomeFail
}

func findingRank(f string) int {
	switch f {
	case SelectorRetired:
		return 0
	case SelectorUnknown:
		return 1
	}
	return 2
}

// retiredGrace is how long after a key retired reports may still show its
// selector: mail signed just before, reported in the next daily report.
const retiredGrace = 48 * time.Hour
