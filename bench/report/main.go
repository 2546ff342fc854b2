// Command report turns the raw runs that bench/compare.sh leaves into
// bench/results/results.json, BENCHMARKS.md and the chart of delivered
// messages per second against concurrency.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	raw := fs.String("raw", "", "folder of the runs and meta.json (required)")
	resultsOut := fs.String("results", "bench/results/results.json", "where to write every run and the medians")
	mdOut := fs.String("md", "BENCHMARKS.md", "where to write the report")
	svgOut := fs.String("svg", "bench/results/chart.svg", "where to write the chart")
	chartLink := fs.String("chart-link", "bench/results/chart.svg", "the chart's path as BENCHMARKS.md links it")
	notesFile := fs.String("notes", "bench/NOTES.md", "hand-written notes appended to the report (optional)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *raw == "" {
		fmt.Fprintln(os.Stderr, "report: give the folder of raw runs with -raw DIR (bench/compare.sh does)")
		return 2
	}
	if err := generate(*raw, *resultsOut, *mdOut, *svgOut, *chartLink, *notesFile); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		return 1
	}
	return 0
}

func generate(raw, resultsOut, mdOut, svgOut, chartLink, notesFile string) error {
	var meta Meta
	b, err := os.ReadFile(filepath.Join(raw, "meta.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return fmt.Errorf("meta.json: %w", err)
	}
	runs, err := loadRuns(raw)
	if err != nil {
		return err
	}
	cells := medians(runs)
	fl, err := loadFloor(raw)
	if err != nil {
		return err
	}
	cg, err := loadFeaturesCG(raw)
	if err != nil {
		return err
	}
	notes := ""
	if notesFile != "" {
		if b, err := os.ReadFile(notesFile); err == nil {
			notes = string(b)
		} else if !os.IsNotExist(err) {
			return err
		}
	}

	res, err := json.MarshalIndent(struct {
		Meta    Meta        `json:"meta"`
		Medians []Cell      `json:"medians"`
		Floor   *Floor      `json:"signing_floor,omitempty"`
		CG      *FeaturesCG `json:"features_callgrind,omitempty"`
		Runs    []Run       `json:"runs"`
	}{meta, cells, fl, cg, runs}, "", "  ")
	if err != nil {
		return err
	}
	var md, svg bytes.Buffer
	if err := writeMarkdown(&md, meta, runs, cells, fl, cg, chartLink, notes); err != nil {
		return err
	}
	if err := writeChart(&svg, cells, 4096); err != nil {
		return err
	}
	for _, f := range []struct {
		path string
		data []byte
	}{{resultsOut, append(res, '\n')}, {mdOut, md.Bytes()}, {svgOut, svg.Bytes()}} {
		if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(f.path, f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
