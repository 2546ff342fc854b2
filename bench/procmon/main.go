// Command procmon measures what a relay costs while a benchmark runs: the
// CPU seconds spent by a set of processes and all their descendants
// (Postfix's master with its smtpd, cleanup, qmgr and smtp children, plus
// opendkim; or the one dkimrelay process), and the peak of their summed
// resident memory. It reads /proc only.
//
// It samples until SIGTERM or SIGINT, then writes one JSON object to -out
// (or stdout) and exits.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Report is procmon's output.
type Report struct {
	CPUSeconds   float64 `json:"cpu_seconds"`    // CPU of the tree between start and stop
	PeakRSSBytes int64   `json:"peak_rss_bytes"` // largest summed RSS of the tree at a sample
	PeakPSSBytes int64   `json:"peak_pss_bytes"` // largest summed PSS (shared pages divided among their users)
	PeakProcs    int     `json:"peak_procs"`     // most processes in the tree at a sample
	Samples      int     `json:"samples"`
	Seconds      float64 `json:"seconds"`
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("procmon", flag.ContinueOnError)
	pids := fs.String("pids", "", "comma-separated PIDs whose process trees to measure (required)")
	interval := fs.Duration("interval", 100*time.Millisecond, "how often to sample RSS")
	out := fs.String("out", "", "write the JSON report here (default: stdout)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var roots []int
	for _, s := range strings.Split(*pids, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		pid, err := strconv.Atoi(s)
		if err != nil || pid <= 0 {
			fmt.Fprintf(os.Stderr, "procmon: %q is not a PID: give -pids as numbers separated by commas\n", s)
			return 2
		}
		roots = append(roots, pid)
	}
	if len(roots) == 0 || *interval <= 0 {
		fmt.Fprintln(os.Stderr, "procmon: give the processes to measure with -pids PID[,PID...]")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	rep, err := monitor(ctx, "/proc", roots, *interval)
	if err != nil {
		fmt.Fprintln(os.Stderr, "procmon:", err)
		return 1
	}
	b, _ := json.Marshal(rep)
	b = append(b, '\n')
	if *out == "" {
		os.Stdout.Write(b)
		return 0
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "procmon:", err)
		return 1
	}
	return 0
}

// monitor samples the trees under roots until ctx ends. CPU is the
// difference between the first and the last sample, so it counts exactly
// the work done in between, including that of processes that started and
// exited meanwhile (reaped into their parent's cutime).
func monitor(ctx context.Context, procDir string, roots []int, interval time.Duration) (Report, error) {
	var rep Report
	pageSize := int64(os.Getpagesize())
	sample := func() (int64, error) {
		all, err := readAll(procDir)
		if err != nil {
			return 0, err
		}
		procs := tree(all, roots)
		if len(procs) == 0 {
			return 0, fmt.Errorf("none of the processes %v is running", roots)
		}
		cpu, rss := totals(procs)
		var sumPSS int64
		for _, p := range procs {
			sumPSS += pss(procDir, p.pid)
		}
		rep.Samples++
		rep.PeakRSSBytes = max(rep.PeakRSSBytes, rss*pageSize)
		rep.PeakPSSBytes = max(rep.PeakPSSBytes, sumPSS)
		rep.PeakProcs = max(rep.PeakProcs, len(procs))
		return cpu, nil
	}
	start := time.Now()
	cpu0, err := sample()
	if err != nil {
		return rep, err
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	cpu1 := cpu0
	for {
		select {
		case <-ctx.Done():
			c, err := sample()
			if err == nil {
				cpu1 = c
			}
			rep.CPUSeconds = float64(cpu1-cpu0) / userHZ
			rep.Seconds = time.Since(start).Seconds()
			return rep, nil
		case <-t.C:
			c, err := sample()
			if err != nil {
				// The relay stopped: report what was measured.
				rep.CPUSeconds = float64(cpu1-cpu0) / userHZ
				rep.Seconds = time.Since(start).Seconds()
				return rep, nil
			}
			cpu1 = c
		}
	}
}
