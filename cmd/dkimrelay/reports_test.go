package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// newReportsConfig writes a config whose relay leaves from the addresses
// the report corpus was written for.
func newReportsConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "dkimrelay.toml")
	text := `hostname = "mail.example.org"
data_dir = "data"

[[domains]]
name = "example.org"

[delivery]
egress_ips = ["198.51.100.25", "2001:db8:25::25"]

[dns]
servers = ["127.0.0.1:1"]
timeout = "100ms"
`
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const reportCorpus = "../../reports/testdata/corpus"

func TestReportsImportAndSummary(t *testing.T) {
	cfg := newReportsConfig(t)
	for _, args := range [][]string{
		{"keys", "generate", "--domain", "example.org", "--algorithm", "ed25519", "--selector", "s2026b"},
		{"keys", "activate", "--domain", "example.org", "--selector", "s2026b", "--force"},
	} {
		if r := runCLI(t, "", append(args, "--config", cfg)...); r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
	}

	// The whole corpus folder: sound reports imported, the damaged file
	// and the bomb skipped with one line each, exit 1.
	r := runCLI(t, "", "reports", "import", "--config", cfg, reportCorpus)
	if r.code != 1 {
		t.Errorf("import exit %d, want 1 (inputs skipped)", r.code)
	}
	if !strings.HasSuffix(r.stdout, "8 imported, 1 already stored, 3 skipped\n") {
		t.Errorf("import printed:\n%s", r.stdout)
	}
	skipped := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(skipped) != 4 || !strings.Contains(skipped[0], "07-damaged.xml.gz: damaged gzip data") ||
		!strings.Contains(skipped[1], "08-zipbomb.zip (report.xml): over the size limit") ||
		!strings.Contains(skipped[2], "10-mailbox.mbox (message 2): no DMARC or TLS report attached") ||
		!strings.Contains(skipped[3], "3 input(s) skipped") {
		t.Errorf("import stderr:\n%s", r.stderr)
	}

	// Standard input, a report already stored: exit 0.
	b, err := os.ReadFile(filepath.Join(reportCorpus, "02-yahoo.xml.gz"))
	if err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, string(b), "reports", "import", "--config", cfg, "-")
	if r.code != 0 || !strings.Contains(r.stdout, `already stored dmarc report "Yahoo" "1764460800.700123" from -`) {
		t.Errorf("stdin import: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = runCLI(t, "", "reports", "--config", cfg, "--domain", "example.org", "--json")
	if r.code != 0 {
		t.Fatalf("reports --json: exit %d: %s", r.code, r.stderr)
	}
	reportsGolden(t, "reports-example.org.json", r.stdout)
	r = runCLI(t, "", "reports", "--config", cfg, "--domain", "example.org")
	reportsGolden(t, "reports-example.org.txt", r.stdout)
	// docs/reports.md shows this very output.
	if doc, err := os.ReadFile("../../docs/reports.md"); err != nil || !strings.Contains(string(doc), r.stdout) {
		t.Errorf("docs/reports.md does not show the output of `reports --domain example.org` for the corpus (%v)", err)
	}
	// Stable: the same command prints the same bytes.
	if again := runCLI(t, "", "reports", "--config", cfg, "--domain", "example.org"); again.stdout != r.stdout {
		t.Error("a second run printed something else")
	}
}

func TestReportsUsage(t *testing.T) {
	cfg := newReportsConfig(t)
	for _, args := range [][]string{
		{"reports", "import"},
		{"reports", "--since", "yesterday-ish"},
		{"reports", "extra"},
	} {
		if r := runCLI(t, "", append(args, "--config", cfg)...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2", args, r.code)
		}
	}
	if r := runCLI(t, "", "reports", "import", "--config", cfg, filepath.Join(t.TempDir(), "missing.xml")); r.code != 1 || !strings.Contains(r.stderr, "missing.xml: cannot be read") {
		t.Errorf("missing file: exit %d: %s", r.code, r.stderr)
	}
	r := runCLI(t, "", "reports", "--config", cfg)
	if r.code != 0 || !strings.Contains(r.stdout, "No DMARC aggregate reports stored") {
		t.Errorf("empty store: exit %d: %s", r.code, r.stdout)
	}
}

func reportsGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with UPDATE_GOLDEN=1 to create it)", err)
	}
	if !bytes.Equal([]byte(got), want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestReportsInHelp: `reports` runs by itself and has a subcommand; both
// are in the usage, the man page and the completion.
func TestReportsInHelp(t *testing.T) {
	usage := runCLI(t, "", "help").stdout
	man := runCLI(t, "", "help", "--man").stdout
	completion := runCLI(t, "", "help", "--bash-completion").stdout
	for _, c := range []struct{ where, text, want string }{
		{"usage", usage, "  reports  "},
		{"usage", usage, "  reports import "},
		{"man page", man, "reports import"},
		{"man page", man, `\fBdkimrelay reports\fR \fI[\-\-domain D]`},
		{"completion", completion, `"reports import") words="--config --help"`},
		{"completion", completion, `"reports "*) words="--config --domain --help --json --since"`},
	} {
		if !strings.Contains(c.text, c.want) {
			t.Errorf("the %s lacks %q", c.where, c.want)
		}
	}
	if strings.Index(completion, `"reports import")`) > strings.Index(completion, `"reports "*)`) {
		t.Error("the completion's \"reports *\" pattern comes before \"reports import\" and takes it")
	}
}
