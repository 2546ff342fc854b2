package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a process the bench started: the relay or the sink.
type proc struct {
	name    string
	cmd     *exec.Cmd
	started time.Time     // just before fork and exec: the clock of "ready to accept"
	done    chan struct{} // closed once the process has exited and been reaped
	err     error         // its exit status, once done is closed
}

// procSet remembers every process the bench started, so that each is
// stopped however the bench ends: an error, a timeout, SIGINT or SIGTERM.
type procSet struct {
	mu    sync.Mutex
	procs []*proc
}

// start starts cmd in its own process group, so that a Ctrl-C at the
// terminal reaches the bench alone and the bench stops the relay in
// order (SIGTERM, then waiting for its drain) rather than racing it.
func (s *procSet) start(name string, cmd *exec.Cmd) (*proc, error) {
	cmd.SysProcAttr = procAttr()
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits up to grace for the process to exit, then
// kills it. It returns the exit error of a process that exited on its
// own accord or after SIGTERM; a process that had to be killed is an error.
func (p *proc) stop(grace time.Duration) error {
	if p.exited() {
		return p.err
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(grace):
	}
	p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("%s did not exit within %s of SIGTERM and was killed", p.name, grace)
}

// stopAll stops every process still running, the last started first.
func (s *procSet) stopAll(grace time.Duration) {
	s.mu.Lock()
	procs := append([]*proc(nil), s.procs...)
	s.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop(grace)
	}
}

// statusKB reads a "kB" field of /proc/PID/status, such as VmRSS or VmHWM
// (the resident set's high-water mark over the process's life, proc(5)).
func statusKB(pid int, field string) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		num, _, _ := strings.Cut(strings.TrimSpace(val), " ")
		return strconv.ParseInt(num, 10, 64)
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no " + field + " in /proc/" + strconv.Itoa(pid) + "/status")
}

// statusMB is statusKB in megabytes (10^6 bytes), 0 when unreadable.
func statusMB(p *proc, field string) float64 {
	kb, err := statusKB(p.cmd.Process.Pid, field)
	if err != nil {
		return 0
	}
	return float64(kb) * 1024 / 1e6
}
