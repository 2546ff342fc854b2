package summary

import (
	"fmt"
	"testing"

	"dkimrelay/reports/dmarcrpt"
	"dkimrelay/reports/store"
)

func TestSourceFinding(t *testing.T) {
	counts := func(spfPass, spfFail, dkimPass, dkimFail, dmarcPass int) Counts {
		return Counts{
			SPF:   map[string]int{"pass": spfPass, "fail": spfFail},
			DKIM:  map[string]int{"pass": dkimPass, "fail": dkimFail},
			DMARC: map[string]int{"pass": dmarcPass, "fail": 10 - dmarcPass},
		}
	}
	tests := []struct {
		name   string
		class  string
		counts Counts
		want   string
	}{
		{"spoofer", Unknown, counts(0, 10, 0, 10, 0), SourceForged},
		{"service missing from SPF", Unknown, counts(0, 10, 10, 0, 10), SourceDKIMOnly},
		{"service not signing", Unknown, counts(10, 0, 0, 10, 10), SourceSPFOnly},
		{"service passing both", Unknown, counts(10, 0, 10, 0, 10), SourceAuthorized},
		{"unknown, mixed", Unknown, counts(5, 5, 5, 5, 8), SourceAuthorized},
		{"own, SPF record lacks it", OwnFailing, counts(0, 10, 10, 0, 10), SourceSPFFails},
		{"own, key mismatch", OwnFailing, counts(10, 0, 0, 10, 10), SourceDKIMFails},
		{"own, forwarded", OwnFailing, counts(10, 0, 8, 2, 10), SourceSomeFail},
		{"own, passing", Own, counts(10, 0, 10, 0, 10), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sourceFinding(Source{Class: tt.class, Messages: 10, Counts: tt.counts})
			if got != tt.want {
				t.Errorf("finding %q, want %q", got, tt.want)
			}
			if got != "" && sourceText[got] == "" {
				t.Errorf("finding %q has no text", got)
			}
		})
	}
}

// TestSelectorCase: receivers may report a selector in other case than the
// store has it; DNS names compare without case (RFC 4343).
func TestSelectorCase(t *testing.T) {
	f := &dmarcrpt.Feedback{
		Metadata: dmarcrpt.Metadata{OrgName: "r", ReportID: "1"},
		Policy:   dmarcrpt.PolicyPublished{Domain: "example.org"},
		Records: []dmarcrpt.Record{{SourceIP: "192.0.2.1", Count: 1, DKIM: "pass", SPF: "pass", HeaderFrom: "example.org",
			AuthDKIM: []dmarcrpt.DKIMResult{{Domain: "example.org", Selector: "S2026", Result: "pass"}}}},
	}
	s := Build([]*store.Report{store.NewDMARC(f)}, Options{Keys: []Key{{Domain: "Example.org", Selector: "s2026", State: "active"}}})
	if len(s.Selectors) != 1 || s.Selectors[0].Finding != SelectorOK {
		t.Errorf("selectors %+v", s.Selectors)
	}
}

// TestPolicies: one record written the long and the short way is one
// policy; a record that differs between receivers is two.
func TestPolicies(t *testing.T) {
	report := func(org string, p dmarcrpt.PolicyPublished) *store.Report {
		return store.NewDMARC(&dmarcrpt.Feedback{
			Metadata: dmarcrpt.Metadata{OrgName: org, ReportID: "1"},
			Policy:   p,
			Records:  []dmarcrpt.Record{{SourceIP: "192.0.2.1", Count: 1, HeaderFrom: p.Domain}},
		})
	}
	s := Build([]*store.Report{
		report("a", dmarcrpt.PolicyPublished{Domain: "example.org", P: "reject"}),
		report("b", dmarcrpt.PolicyPublished{Domain: "example.org", P: "reject", SP: "reject", Pct: 100, ADKIM: "r", ASPF: "r"}),
		report("c", dmarcrpt.PolicyPublished{Domain: "example.org", P: "none"}),
	}, Options{})
	var got []string
	for _, p := range s.DMARC.Policies {
		got = append(got, fmt.Sprintf("%s %v", p, p.Reporters))
	}
	want := []string{"example.org: p=none sp=none pct=100 adkim=r aspf=r [c]", "example.org: p=reject sp=reject pct=100 adkim=r aspf=r [a b]"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("policies %q, want %q", got, want)
	}
}
