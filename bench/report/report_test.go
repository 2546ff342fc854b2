package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenCases are the raw folders TestGolden renders: testdata/raw, a
// made-up run of three relays at two concurrencies with one incomplete run,
// as the script left them before it measured a new connection per message;
// and the same with testdata/raw-reconnect laid over it: those runs (one
// of them failed) and a meta.json that counts them.
var goldenCases = []struct {
	name   string
	layers []string // raw folders copied into one, later ones over earlier ones
	prefix string   // of the golden files in testdata/
}{
	{"reuse only", []string{"testdata/raw"}, ""},
	{"with reconnect runs", []string{"testdata/raw", "testdata/raw-reconnect"}, "reconnect-"},
	{"four relays, two sink modes, floor, features, memory", []string{"testdata/raw", "testdata/raw-reconnect", "testdata/raw-modes"}, "modes-"},
}

// render generates the report of the layered raw folders into a temporary
// folder and returns its three files by name.
func render(t *testing.T, layers []string) map[string][]byte {
	t.Helper()
	raw := t.TempDir()
	for _, dir := range layers {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(raw, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	out := t.TempDir()
	paths := map[string]string{
		"results.json":  filepath.Join(out, "results.json"),
		"BENCHMARKS.md": filepath.Join(out, "BENCHMARKS.md"),
		"chart.svg":     filepath.Join(out, "chart.svg"),
	}
	if err := generate(raw, paths["results.json"], paths["BENCHMARKS.md"], paths["chart.svg"],
		"bench/results/chart.svg", "testdata/notes.md"); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for name, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	return files
}

// TestGolden compares each case's report, chart and results with its
// golden files.
func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			for name, got := range render(t, tc.layers) {
				golden := filepath.Join("testdata", tc.prefix+name+".golden")
				if *update {
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from %s; run go test -update and review the diff", name, golden)
				}
			}
		})
	}
}

// section returns the text of md from the line starting with from up to
// the next line starting with "## ", or "" when there is no such line.
func section(md, from string) string {
	i := strings.Index(md, "\n"+from)
	if i < 0 {
		return ""
	}
	s := md[i+1:]
	if j := strings.Index(s[len(from):], "\n## "); j >= 0 {
		s = s[:len(from)+j+1]
	}
	return s
}

// TestReconnectSection checks the figures of the reconnect runs against
// values worked out by hand from testdata/raw-reconnect (medians of two
// rounds; the failed Postfix run left out), and that they change nothing
// in the report of the reused connections.
func TestReconnectSection(t *testing.T) {
	old := render(t, goldenCases[0].layers)
	both := render(t, goldenCases[1].layers)
	oldMD, md := string(old["BENCHMARKS.md"]), string(both["BENCHMARKS.md"])

	if strings.Contains(oldMD, reconnectTitle) || strings.Contains(oldMD, "new connection") {
		t.Errorf("the report of a raw folder without reconnect runs mentions them:\n%s", oldMD)
	}
	sec := section(md, "## "+reconnectTitle)
	if sec == "" {
		t.Fatalf("no section %q in:\n%s", reconnectTitle, md)
	}
	for _, want := range []string{
		// delivered: 200/4.0 s and 200/3.2 s; accepted 200/3.9 s and 200/3.125 s;
		// CPU 4.0 s and 3.6 s over 200 messages; 200 connections to the sink.
		"| Postfix + OpenDKIM | 8 | **56** | 58 | 19.0 | 75.0 | 19.00 | 64 | 32 | 1 | 100.0 |",
		// Round 1 refused with 421: round 2 alone, 200/2.5 s.
		"| Postfix, no DKIM | 8 | **80** (1 of 2 runs failed) | 83 | 10.0 | 40.0 | 12.00 | 60 | 30 | 0 | 100.0 |",
		// 200/1.25 s and 200/1.0 s; 2 connections to the sink per run.
		"| dkimrelay | 8 | **180** | 189 | 11.0 | 28.0 | 4.25 | 40 | 38 | 2 | 1.0 |",
		// 180/56.25, 180/80, 19/4.25, 75/28.
		"| 8 | 3.20× | 2.25× | 4.47× | 2.68× |",
		// Against the c=8 reuse cells of testdata/raw: 328.07 msgs/s and 4.20 ms,
		// 800 and 2.10, 1026.3 and 1.10.
		"| Postfix + OpenDKIM | 4 KB | 8 | 0.17× | +14.80 |",
		"| Postfix, no DKIM | 4 KB | 8 | 0.10× | +9.90 |",
		"| dkimrelay | 4 KB | 8 | 0.18× | +3.15 |",
	} {
		if !strings.Contains(sec, want+"\n") {
			t.Errorf("the reconnect section lacks the row\n%s\nin:\n%s", want, sec)
		}
	}
	for _, want := range []string{
		"600 messages at c=32 (4 KB messages), 50 messages at c=8 (100 KB) and 200 messages at c=8 (4 KB, a new connection and login for each) per run",
		"- Postfix, no DKIM, c=8, 4 KB, a new connection per message, round 1: 421 4.7.0",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q", want)
		}
	}

	// The reused connections' tables, targets and chart are those of the
	// same runs without the reconnect ones.
	if !bytes.Equal(both["chart.svg"], old["chart.svg"]) {
		t.Error("the reconnect runs changed the chart, which is of reused connections only")
	}
	reuse := func(md string) string {
		s := section(md, "## Results")
		return s[strings.Index(s, "### "):]
	}
	if got, want := reuse(md), reuse(oldMD); got != want {
		t.Errorf("the reconnect runs changed the tables of reused connections:\n%s\nwant:\n%s", got, want)
	}
	if got, want := section(md, "## Targets"), section(oldMD, "## Targets"); got != want || got == "" {
		t.Errorf("the reconnect runs changed the targets:\n%s\nwant:\n%s", got, want)
	}
}

// TestModesSections checks the figures of testdata/raw-modes against
// values worked out by hand (medians of two rounds).
func TestModesSections(t *testing.T) {
	md := string(render(t, goldenCases[2].layers)["BENCHMARKS.md"])
	for _, want := range []string{
		// maddy with the sink offering STARTTLS: 400/2.0 s and 400/1.6 s;
		// 2.0 s and 2.4 s of CPU over 400 messages.
		"| maddy | 8 | **225** | 250 | 18.8 | 75.0 | 5.50 | 61 | 59 | 1 | 100.0 |",
		// The sink offering no TLS: dkimrelay 400/1.25 s and 400/1.0 s,
		// 4 ms and 3 ms; maddy 200 msgs/s.
		"| dkimrelay | 8 | **360** | 400 | 12.0 | 48.0 | 3.50 | 31 | 29 | 2 | 0.8 |",
		"| 8 | 1.80× | 1.00× | 2.07× | 1.08× | 1.80× | 1.43× |",
		// The floor: RSA-2048 1.0 and 1.2 ms; dkimrelay 3.50 ÷ 1.10 and ÷ 1.20.
		"| RSA-2048 | 1.100 | 1.000–1.200 |",
		"| sink offering no TLS | 3.50 | **3.18×** | 2.92× |",
		// Features: 1.28 s against 1.2 s of CPU over 400 messages.
		"On against off: CPU per message 3.20 ms against 3.00 ms (**+6.7 %**",
		"| delivery features cost ≤ 5 % CPU per message (on against off) | 3.20 vs 3.00 ms (+6.7 %) | missed: 1.7 points over |",
		// p99 of dkimrelay, no TLS: 40 and 56 ms.
		"| 40.0–56.0 ms over 2 rounds | missed: 6.0 ms over in the worst round |",
		"peak RSS **120 MB** (the target is below 150 MB)",
		"| peak RSS < 150 MB with 64 connections × 10 MB | 120 MB | met |",
		// 2.4e9 and 2.3e9 instructions over 200 messages.
		"12000000 instructions per message on, 11500000 off (**+4.3 %**)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks\n%s\nin:\n%s", want, md)
		}
	}
	// The features and memory runs stay out of the comparison's tables.
	if res := section(md, "## Results"); strings.Contains(res, "features") || strings.Contains(res, "10 MB") {
		t.Errorf("the results tables show the features or memory runs:\n%s", res)
	}
}

// TestModeMismatch: a run whose relaybench output contradicts its file
// name about reconnecting is the script's mistake, and no report is
// written from it.
func TestModeMismatch(t *testing.T) {
	tests := []struct {
		name, file, bench string
	}{
		{"reconnect in a reuse file", "dkimrelay_c8_s4096_r1", `{"n": 10, "reconnect": true}`},
		{"reuse in a reconnect file", "dkimrelay_c8_s4096_r1_reconnect", `{"n": 10, "reconnect": false}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for ext, data := range map[string]string{".bench.json": tt.bench, ".sink.json": `{}`, ".proc.json": `{}`} {
				if err := os.WriteFile(filepath.Join(dir, tt.file+ext), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := loadRuns(dir); err == nil || !strings.Contains(err.Error(), "file name") {
				t.Errorf("loadRuns = %v, want an error about the file name", err)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestNiceStep(t *testing.T) {
	tests := []struct{ in, want float64 }{{0, 1}, {0.7, 1}, {130, 200}, {240, 500}, {1000, 1000}, {1001, 2000}}
	for _, tt := range tests {
		if got := niceStep(tt.in); got != tt.want {
			t.Errorf("niceStep(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestRunUsage(t *testing.T) {
	if rc := run(nil); rc != 2 {
		t.Errorf("run() = %d, want 2", rc)
	}
	if rc := run([]string{"-raw", t.TempDir()}); rc != 1 {
		t.Errorf("run on an empty folder = %d, want 1", rc)
	}
}
