package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// userHZ is the unit of the CPU times in /proc/PID/stat. The kernel
// reports them in USER_HZ, which is 100 on every Linux architecture
// (proc(5)), whatever the kernel's internal HZ.
const userHZ = 100

// procStat is what procmon needs from /proc/PID/stat and statm.
type procStat struct {
	pid, ppid int
	// cpu is utime+stime+cutime+cstime in clock ticks: the process's own
	// CPU and that of its children it has waited for. Summed over a
	// process tree it only grows: a child that exits and is reaped moves
	// its time into its parent's cutime/cstime (proc(5)).
	cpu int64
	rss int64 // resident pages
}

// parseStat parses the text of /proc/PID/stat. The command name (field 2)
// is in parentheses and may itself hold spaces and parentheses, so the
// fields are counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	var p procStat
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return p, fmt.Errorf("malformed stat %q", b)
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return p, fmt.Errorf("malformed pid in stat: %w", err)
	}
	// Fields after the name start at field 3 (state).
	f := strings.Fields(string(b[end+1:]))
	const (
		ppid   = 4 - 3
		utime  = 14 - 3
		cstime = 17 - 3
		rss    = 24 - 3
	)
	if len(f) <= rss {
		return p, fmt.Errorf("stat of %d has %d fields", pid, len(f)+2)
	}
	p.pid = pid
	if p.ppid, err = strconv.Atoi(f[ppid]); err != nil {
		return p, fmt.Errorf("stat of %d: ppid: %w", pid, err)
	}
	for i := utime; i <= cstime; i++ {
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return p, fmt.Errorf("stat of %d: field %d: %w", pid, i+3, err)
		}
		p.cpu += v
	}
	if p.rss, err = strconv.ParseInt(f[rss], 10, 64); err != nil {
		return p, fmt.Errorf("stat of %d: rss: %w", pid, err)
	}
	return p, nil
}

// readAll reads the stat of every process under procDir. Processes that
// vanish while it reads are skipped.
func readAll(procDir string) ([]procStat, error) {
	ents, err := os.ReadDir(procDir)
	if err != nil {
		return nil, err
	}
	out := make([]procStat, 0, len(ents))
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(procDir, e.Name(), "stat"))
		if err != nil {
			continue // exited
		}
		p, err := parseStat(b)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// pss returns the proportional set size of process pid in bytes: its
// resident pages, each shared page divided among the processes sharing
// it (proc(5), smaps_rollup). Summed over Postfix's many processes it
// counts their shared libraries once, where a sum of RSS counts them once
// per process. 0 when the process is gone.
func pss(procDir string, pid int) int64 {
	b, err := os.ReadFile(filepath.Join(procDir, strconv.Itoa(pid), "smaps_rollup"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Pss:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb << 10
				}
			}
		}
	}
	return 0
}

// tree returns the processes rooted at roots (the roots and all their
// descendants) out of all.
func tree(all []procStat, roots []int) []procStat {
	children := map[int][]int{}
	byPID := map[int]procStat{}
	for _, p := range all {
		children[p.ppid] = append(children[p.ppid], p.pid)
		byPID[p.pid] = p
	}
	var out []procStat
	seen := map[int]bool{}
	stack := append([]int(nil), roots...)
	for len(stack) > 0 {
		pid := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		p, ok := byPID[pid]
		if !ok || seen[pid] {
			continue
		}
		seen[pid] = true
		out = append(out, p)
		stack = append(stack, children[pid]...)
	}
	return out
}

// totals sums CPU ticks and resident pages over procs.
func totals(procs []procStat) (cpu, rss int64) {
	for _, p := range procs {
		cpu += p.cpu
		rss += p.rss
	}
	return cpu, rss
}
