package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name, in string
		want     procStat
	}{
		{
			name: "plain",
			in:   "4242 (smtpd) S 4200 4200 4200 0 -1 4194560 800 0 0 0 12 3 5 7 20 0 1 0 100 20000000 1234 18446744073709551615",
			want: procStat{pid: 4242, ppid: 4200, cpu: 12 + 3 + 5 + 7, rss: 1234},
		},
		{
			name: "name with spaces and parentheses",
			in:   "77 (a (b) c) R 1 77 77 0 -1 0 0 0 0 0 100 50 0 0 20 0 4 0 5 1000 99 0",
			want: procStat{pid: 77, ppid: 1, cpu: 150, rss: 99},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "12 (x", "x (y) S 1 2", "5 (z) S 1 1 1 0 -1 0 0 0 0 0 a 0 0 0 20 0 1 0 5 1 1 0"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) succeeded", bad)
		}
	}
}

func TestTree(t *testing.T) {
	all := []procStat{
		{pid: 1, ppid: 0, cpu: 1000, rss: 1},
		{pid: 10, ppid: 1, cpu: 5, rss: 10},  // master
		{pid: 11, ppid: 10, cpu: 7, rss: 20}, // smtpd
		{pid: 12, ppid: 11, cpu: 1, rss: 30}, // its child
		{pid: 20, ppid: 1, cpu: 3, rss: 40},  // opendkim
		{pid: 30, ppid: 1, cpu: 99, rss: 50}, // unrelated
	}
	cpu, rss := totals(tree(all, []int{10, 20, 404}))
	if cpu != 16 || rss != 100 {
		t.Errorf("tree totals = %d ticks, %d pages; want 16, 100", cpu, rss)
	}
}

// TestMonitorCountsExitedChildren measures a real shell whose children
// burn CPU and exit: their time must be counted through the shell's
// cutime.
func TestMonitorCountsExitedChildren(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "burn.sh")
	// Each child does a fixed amount of work, about 0.3 s of CPU here
	// however loaded the machine is (a wall-clock loop would burn less CPU
	// on a busy machine), then exits and is reaped.
	os.WriteFile(script, []byte("#!/bin/sh\nread go\nfor i in 1 2; do sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done'; done\n: > \"$0.done\"\nsleep 30\n"), 0o755)
	cmd := exec.Command("/bin/sh", script)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Report, 1)
	go func() {
		rep, err := monitor(ctx, "/proc", []int{cmd.Process.Pid}, 20*time.Millisecond)
		if err != nil {
			t.Error(err)
		}
		done <- rep
	}()
	time.Sleep(100 * time.Millisecond) // the first sample is taken
	stdin.Write([]byte("go\n"))
	// Wait for both children to have run and exited.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(script + ".done"); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	rep := <-done
	if rep.CPUSeconds < 0.3 {
		t.Errorf("CPU = %.2f s, want at least 0.3 (two children of ~0.28 s each)", rep.CPUSeconds)
	}
	if rep.PeakRSSBytes <= 0 || rep.PeakPSSBytes <= 0 || rep.PeakPSSBytes > rep.PeakRSSBytes || rep.Samples < 2 {
		t.Errorf("report %+v", rep)
	}
}

func TestPSS(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "42"), 0o755)
	os.WriteFile(filepath.Join(dir, "42", "smaps_rollup"), []byte("55d0-7ffd ---p 00000000 00:00 0 [rollup]\nRss:  2048 kB\nPss:  1536 kB\nPss_Dirty: 100 kB\n"), 0o644)
	if got := pss(dir, 42); got != 1536<<10 {
		t.Errorf("pss = %d, want %d", got, 1536<<10)
	}
	if got := pss(dir, 43); got != 0 {
		t.Errorf("pss of an absent process = %d, want 0", got)
	}
	if got := pss("/proc", os.Getpid()); got <= 0 {
		t.Errorf("pss of this test = %d", got)
	}
}

func TestRunUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"-pids", "x"}, {"-pids", "1", "-interval", "0s"}} {
		if rc := run(args); rc != 2 {
			t.Errorf("run(%q) = %d, want 2", args, rc)
		}
	}
	if rc := run([]string{"-pids", strconv.Itoa(1 << 30)}); rc != 1 {
		t.Errorf("run of an absent PID = %d, want 1", rc)
	}
}
