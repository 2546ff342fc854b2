package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGolden renders testdata/raw, a made-up run of three relays at two
// concurrencies with one incomplete run, and compares with the golden
// report, chart and results.
func TestGolden(t *testing.T) {
	out := t.TempDir()
	files := map[string]string{
		"results.json":  filepath.Join(out, "results.json"),
		"BENCHMARKS.md": filepath.Join(out, "BENCHMARKS.md"),
		"chart.svg":     filepath.Join(out, "chart.svg"),
	}
	if err := generate("testdata/raw", files["results.json"], files["BENCHMARKS.md"], files["chart.svg"],
		"bench/results/chart.svg", "testdata/notes.md"); err != nil {
		t.Fatal(err)
	}
	for name, path := range files {
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", name+".golden")
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
