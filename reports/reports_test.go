package reports

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dkimrelay/config"
	"dkimrelay/reports/store"
	"dkimrelay/reports/tlsrpt"
)

func testConfig(t *testing.T) *config.Config {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "dkimrelay.toml")
	text := "hostname = \"mail.example.org\"\n[delivery]\negress_ips = [\"198.51.100.25\", \"2001:db8:25::25\"]\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestImportAndSummarize(t *testing.T) {
	cfg := testConfig(t)
	st, err := OpenStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	c, err := Import(context.Background(), st, []string{"testdata/corpus"}, nil, &out, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	if c != (Counts{Added: 8, Duplicates: 1, Skipped: 3}) {
		t.Errorf("counts %+v\n%s%s", c, &out, &errOut)
	}
	if n := strings.Count(errOut.String(), "\n"); n != 3 {
		t.Errorf("%d lines for 3 skipped inputs:\n%s", n, &errOut)
	}
	sum, notes, err := Summarize(context.Background(), cfg, st, "Example.ORG.", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	if err != nil || len(notes) != 0 {
		t.Fatalf("Summarize: %v, notes %q", err, notes)
	}
	if sum.Domain != "example.org" || sum.DMARC.Reports != 2 || sum.DMARC.UnknownSources != 2 || sum.TLS.Reports != 2 {
		t.Errorf("summary for example.org since Dec 1: %+v", sum.DMARC)
	}
}

// TestOverviewCaches: the running relay's summary is made again at most
// once per TTL, and covers the last 7 days.
func TestOverviewCaches(t *testing.T) {
	cfg := testConfig(t)
	st, err := OpenStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	o := NewOverview(cfg, st)
	o.now = func() time.Time { return now }
	add := func(id string, end time.Time) {
		r := store.NewTLS(&tlsrpt.Report{OrganizationName: "Sender Inc.", ReportID: id, Start: end.Add(-24 * time.Hour), End: end,
			Policies: []tlsrpt.Policy{{Type: "sts", Domain: "example.org", Successful: 1}}})
		if _, err := st.Add(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	add("old", now.Add(-8*24*time.Hour))
	add("r1", now.Add(-time.Hour))
	if n := o.Summary(context.Background()).TLS.Reports; n != 1 {
		t.Fatalf("%d reports in the window, want 1 (the 8-day-old one is out)", n)
	}
	add("r2", now)
	if n := o.Summary(context.Background()).TLS.Reports; n != 1 {
		t.Errorf("within the TTL: %d reports, want the cached 1", n)
	}
	now = now.Add(2 * time.Minute)
	if n := o.Summary(context.Background()).TLS.Reports; n != 2 {
		t.Errorf("after the TTL: %d reports, want 2", n)
	}
}
