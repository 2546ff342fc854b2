package metrics

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"dkimrelay/reports/importer"
	"dkimrelay/reports/store"
	"dkimrelay/reports/summary"
)

// TestReportFigures scrapes the figures of the report corpus: the same
// numbers `dkimrelay reports` prints for it (docs/reports.md).
func TestReportFigures(t *testing.T) {
	st, err := store.OpenFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := importer.New(st).Path(context.Background(), "../../reports/testdata/corpus", nil, func(importer.Outcome) {}); err != nil {
		t.Fatal(err)
	}
	list, err := st.List(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	sum := summary.Build(list, summary.Options{
		Egress: []netip.Addr{netip.MustParseAddr("198.51.100.25"), netip.MustParseAddr("2001:db8:25::25")},
	})
	m := New(Options{NoProcess: true, Reports: func() *summary.Summary { return sum }})
	got := scrape(t, m.HTTPHandler(nil))
	want := map[string]float64{
		`dkimrelay_reports_messages{disposition="none"}`:                              615,
		`dkimrelay_reports_messages{disposition="quarantine"}`:                        20,
		`dkimrelay_reports_messages{disposition="reject"}`:                            4,
		`dkimrelay_reports_alignment_messages{check="dmarc",result="pass"}`:           615,
		`dkimrelay_reports_alignment_messages{check="dmarc",result="fail"}`:           24,
		`dkimrelay_reports_alignment_messages{check="dkim",result="fail"}`:            26,
		`dkimrelay_reports_alignment_messages{check="spf",result="fail"}`:             27,
		`dkimrelay_reports_unknown_sources`:                                           3,
		`dkimrelay_reports_unknown_source_messages`:                                   21,
		`dkimrelay_reports_tls_failed_sessions{result_type="certificate-expired"}`:    30,
		`dkimrelay_reports_tls_failed_sessions{result_type="starttls-not-supported"}`: 4,
		`dkimrelay_reports_stored{kind="dmarc"}`:                                      5,
		`dkimrelay_reports_stored{kind="tlsrpt"}`:                                     3,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}

	// Before any report: the usual series exist, at zero.
	empty := summary.Build(nil, summary.Options{})
	m = New(Options{NoProcess: true, Reports: func() *summary.Summary { return empty }})
	got = scrape(t, m.HTTPHandler(nil))
	for _, k := range []string{`dkimrelay_reports_messages{disposition="reject"}`, `dkimrelay_reports_alignment_messages{check="dkim",result="fail"}`,
		`dkimrelay_reports_unknown_sources`} {
		if v, ok := got[k]; !ok || v != 0 {
			t.Errorf("%s = %v (present %v), want 0", k, v, ok)
		}
	}
}
