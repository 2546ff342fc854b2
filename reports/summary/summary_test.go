package summary

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"dkimrelay/internal/goldenfile"
	"dkimrelay/reports/importer"
	"dkimrelay/reports/store"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// corpusReports imports the test corpus into a fresh store and lists it.
func corpusReports(t *testing.T) []*store.Report {
	t.Helper()
	st, err := store.OpenFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	im := importer.New(st)
	if err := im.Path(context.Background(), "../testdata/corpus", nil, func(importer.Outcome) {}); err != nil {
		t.Fatal(err)
	}
	reports, err := st.List(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return reports
}

// corpusOptions describe the relay the corpus was written for: two egress
// addresses, a key retired on 2026-11-20 and the active one.
func corpusOptions() Options {
	return Options{
		Egress: []netip.Addr{netip.MustParseAddr("198.51.100.25"), netip.MustParseAddr("2001:db8:25::25")},
		Keys: []Key{
			{Domain: "example.org", Selector: "s2026a", State: "retiring", Retired: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)},
			{Domain: "example.org", Selector: "s2026b", State: "active"},
			{Domain: "example.com", Selector: "s2026c", State: "active"},
		},
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name), got, *update)
}

func TestGolden(t *testing.T) {
	reports := corpusReports(t)
	tests := []struct {
		name   string
		domain string
		since  time.Time
	}{
		{"all", "", time.Time{}},
		{"example.org", "example.org", time.Time{}},
		{"example.com", "example.com", time.Time{}},
		{"since-dec-01", "example.org", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		{"nothing", "example.net", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := corpusOptions()
			opt.Domain, opt.Since = tt.domain, tt.since
			// The summary does not depend on the order reports are
			// listed in.
			rev := append([]*store.Report(nil), reports...)
			for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
				rev[i], rev[j] = rev[j], rev[i]
			}
			js, err := json.MarshalIndent(Build(reports, opt), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			js2, _ := json.MarshalIndent(Build(rev, opt), "", "  ")
			if !bytes.Equal(js, js2) {
				t.Error("the JSON depends on the order of the reports")
			}
			golden(t, tt.name+".json", append(js, '\n'))
			var text bytes.Buffer
			if err := Build(reports, opt).WriteText(&text); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name+".txt", text.Bytes())
		})
	}
}

// TestClasses checks the ordering rule on the corpus: unknown sources
// first, then the relay's addresses with failures, then the rest.
func TestClasses(t *testing.T) {
	s := Build(corpusReports(t), corpusOptions())
	var classes []string
	for _, src := range s.DMARC.Sources {
		classes = append(classes, src.IP+" "+src.Class)
	}
	want := []string{"203.0.113.7 unknown", "192.0.2.200 unknown", "209.85.220.41 unknown",
		"198.51.100.25 own_failing", "2001:db8:25::25 own_failing"}
	if len(classes) != len(want) {
		t.Fatalf("sources %q, want %q", classes, want)
	}
	for i := range want {
		if classes[i] != want[i] {
			t.Errorf("source %d is %q, want %q", i, classes[i], want[i])
		}
	}
	findings := map[string]string{}
	for _, sel := range s.Selectors {
		findings[sel.Domain+"/"+sel.Selector] = sel.Finding
	}
	for k, want := range map[string]string{"example.org/s2026a": SelectorRetired, "example.org/google": SelectorUnknown,
		"example.org/mail2019": SelectorUnknown, "example.org/s2026b": SelectorOK, "example.com/s2026c": SelectorOK} {
		if findings[k] != want {
			t.Errorf("selector %s: finding %q, want %q", k, findings[k], want)
		}
	}
}
