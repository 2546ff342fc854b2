package summary

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteText writes the summary for a person: the sources that need a look
// first, then the selectors, then inbound TLS. docs/reports.md explains
// each section and what to do about it.
func (s *Summary) WriteText(w io.Writer) error {
	p := &printer{w: w}
	p.dmarc(s)
	p.selectors(s)
	p.tls(s)
	return p.err
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, a ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, a...)
	}
}

func (p *printer) table(header string, rows [][]string) {
	if p.err != nil {
		return
	}
	tw := tabwriter.NewWriter(p.w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  "+strings.ReplaceAll(header, " ", "\t"))
	for _, r := range rows {
		for i := range r {
			if r[i] == "" {
				r[i] = "-"
			}
		}
		fmt.Fprintln(tw, "  "+strings.Join(r, "\t"))
	}
	p.err = tw.Flush()
}

func scope(s *Summary) string {
	var b strings.Builder
	if s.Domain != "" {
		b.WriteString(" for " + s.Domain)
	}
	if !s.Since.IsZero() {
		b.WriteString(" since " + s.Since.UTC().Format("2006-01-02 15:04 UTC"))
	}
	return b.String()
}

func (p *printer) dmarc(s *Summary) {
	d := s.DMARC
	if d.Reports == 0 {
		p.f("No DMARC aggregate reports stored%s. Import them with `dkimrelay reports import`, or set [reports.imap] (docs/reports.md).\n", scope(s))
		return
	}
	p.f("DMARC aggregate reports%s: %d from %s, covering %s to %s\n", scope(s), d.Reports, strings.Join(d.Reporters, ", "),
		d.Begin.UTC().Format("2006-01-02"), d.End.UTC().Format("2006-01-02"))
	p.f("%d messages: DMARC %s; disposition %s; %d unknown source(s)\n", d.Messages, counts(d.Counts.DMARC), counts(d.Counts.Disposition), d.UnknownSources)
	egress := strings.Join(s.Egress, ", ")
	if egress == "" {
		egress = "none known (set delivery.egress_ips)"
	}
	p.f("This relay's egress addresses: %s\n", egress)
	for _, pol := range d.Policies {
		p.f("Policy found: %s (%s)\n", pol, strings.Join(pol.Reporters, ", "))
	}
	sections := []struct{ class, title string }{
		{Unknown, "Unknown sources, not this relay's egress addresses: someone else sending as you, or a service of yours missing from SPF"},
		{OwnFailing, "This relay's addresses with failures: a DKIM key or SPF record to fix now"},
		{Own, "This relay's addresses, passing"},
	}
	for _, sec := range sections {
		var rows [][]string
		for _, src := range d.Sources {
			if src.Class != sec.class {
				continue
			}
			c := src.Counts
			rows = append(rows, []string{src.IP, fmt.Sprint(src.Messages), counts(c.DMARC), counts(c.SPF), counts(c.DKIM),
				counts(c.Disposition), strings.Join(src.HeaderFrom, ","), strings.Join(src.Reporters, ", "), sourceText[src.Finding]})
		}
		if len(rows) == 0 {
			continue
		}
		p.f("\n%s\n", sec.title)
		p.table("SOURCE MESSAGES DMARC SPF DKIM DISPOSITION FROM REPORTERS FINDING", rows)
	}
}

var sourceText = map[string]string{
	SourceForged:     "fails DMARC: someone else sending as you, or your service in neither SPF nor DKIM",
	SourceDKIMOnly:   "signs as you but is not in SPF: add it to SPF if it is yours",
	SourceSPFOnly:    "in SPF but not signing as you: set up DKIM there",
	SourceAuthorized: "authorized by your SPF and DKIM: a service of yours, or this relay missing from delivery.egress_ips",
	SourceSPFFails:   "SPF fails: add this address to SPF (dkimrelay check)",
	SourceDKIMFails:  "DKIM fails: DNS and the key differ (dkimrelay keys check)",
	SourceSomeFail:   "some failures: forwarding or mailing lists, or one receiver's view",
}

var findingText = map[string]string{
	SelectorOK:      "ok",
	SelectorRetired: "retired key still seen: something still signs with it",
	SelectorUnknown: "not in the key store: another service signing for you, a pruned key, or a forgery",
}

func (p *printer) selectors(s *Summary) {
	if len(s.Selectors) == 0 {
		return
	}
	p.f("\nDKIM selectors seen by receivers, against the key store\n")
	var rows [][]string
	for _, sel := range s.Selectors {
		rows = append(rows, []string{sel.Domain, sel.Selector, fmt.Sprint(sel.Messages), counts(sel.Results), sel.State,
			sel.End.UTC().Format("2006-01-02"), findingText[sel.Finding]})
	}
	p.table("DOMAIN SELECTOR MESSAGES RESULTS KEY-STORE LAST-SEEN FINDING", rows)
}

func (p *printer) tls(s *Summary) {
	t := s.TLS
	if t.Reports == 0 {
		p.f("\nNo TLS reports stored%s.\n", scope(s))
		return
	}
	p.f("\nTLS reports on inbound mail%s: %d from %s\n", scope(s), t.Reports, strings.Join(t.Reporters, ", "))
	var rows [][]string
	for _, pol := range t.Policies {
		rows = append(rows, []string{pol.Domain, pol.Type, fmt.Sprint(pol.Successful), fmt.Sprint(pol.Failed)})
	}
	p.table("DOMAIN POLICY SESSIONS-OK FAILED", rows)
	if len(t.Failures) == 0 {
		p.f("No failed sessions.\n")
		return
	}
	p.f("\nFailed TLS sessions per receiving MX and result type\n")
	rows = nil
	for _, f := range t.Failures {
		rows = append(rows, []string{f.MX, f.ResultType, fmt.Sprint(f.Sessions), strings.Join(f.Reporters, ", "), strings.Join(f.Details, "; ")})
	}
	p.table("MX RESULT SESSIONS REPORTERS DETAILS", rows)
}

// resultOrder puts the usual results first, in a fixed order.
var resultOrder = map[string]int{"pass": 0, "none": 1, "quarantine": 2, "reject": 3, "fail": 4}

// counts writes a count map as "pass 12, fail 3".
func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		ra, oka := resultOrder[a]
		rb, okb := resultOrder[b]
		if !oka {
			ra = len(resultOrder)
		}
		if !okb {
			rb = len(resultOrder)
		}
		return cmp.Or(cmp.Compare(ra, rb), cmp.Compare(a, b))
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
