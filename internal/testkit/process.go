package testkit

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is a program under test run as a child process (the dkimrelay
// binary, or the test binary re-run as a relay): stopped as systemd stops
// a service (SIGTERM, then a wait) or killed as a crash kills it
// (SIGKILL).
type Process struct {
	// Lines are the lines the process prints on standard output, unless
	// the command's Stdout was set; closed at its end.
	Lines <-chan string

	t      testing.TB
	cmd    *exec.Cmd
	exited chan struct{}
	stderr *Output
}

// StartProcess starts cmd. The caller ends it (Stop, Kill, or
// t.Cleanup(p.Kill), which does nothing once it exited). Unless
// cmd.Stderr is set, its standard error is kept for the failure messages
// of AwaitReady and AwaitLine.
func StartProcess(t testing.TB, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{t: t, cmd: cmd, exited: make(chan struct{})}
	if cmd.Stderr == nil {
		p.stderr = &Output{}
		cmd.Stderr = p.stderr
	}
	var lines chan string
	if cmd.Stdout == nil {
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		lines = make(chan string, 1000)
		p.Lines = lines
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	return p
}

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// State is the exit state, once the process has exited.
func (p *Process) State() *os.ProcessState { return p.cmd.ProcessState }

// Signal sends sig (SIGHUP for a reload, say).
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Stderr is what the process wrote on standard error so far, when kept.
func (p *Process) Stderr() string {
	if p.stderr == nil {
		return ""
	}
	return p.stderr.String()
}

// AwaitReady polls ready until it holds. It fails the test, with what
// output returns (nil: the process's standard error), when the process
// exits first or timeout passes.
func (p *Process) AwaitReady(timeout time.Duration, ready func() bool, output func() string) {
	p.t.Helper()
	if output == nil {
		output = p.Stderr
	}
	deadline := time.Now().Add(timeout)
	for !ready() {
		select {
		case <-p.exited:
			p.t.Fatalf("%s exited before it was ready (%v):\n%s", p.cmd.Path, p.State(), output())
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s not ready after %v:\n%s", p.cmd.Path, timeout, output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// AwaitLine waits for a line of standard output that starts with prefix
// and returns the rest of it; it fails the test, with the process's
// standard error, when the output ends first or timeout passes.
func (p *Process) AwaitLine(prefix string, timeout time.Duration) string {
	p.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-p.Lines:
			if !ok {
				<-p.exited
				p.t.Fatalf("%s ended (%v) without printing %q:\n%s", p.cmd.Path, p.State(), prefix, p.Stderr())
			}
			if rest, found := strings.CutPrefix(line, prefix); found {
				return rest
			}
		case <-deadline:
			p.t.Fatalf("%s did not print %q within %v:\n%s", p.cmd.Path, prefix, timeout, p.Stderr())
		}
	}
}

// Stop sends SIGTERM and waits up to timeout for the exit. A process
// still running then is killed; inTime tells which happened.
func (p *Process) Stop(timeout time.Duration) (state *os.ProcessState, inTime bool) {
	return p.StopWith(syscall.SIGTERM, timeout)
}

// StopWith is Stop with the server's own stop signal (PostgreSQL's fast
// shutdown is SIGINT).
func (p *Process) StopWith(sig os.Signal, timeout time.Duration) (state *os.ProcessState, inTime bool) {
	p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
		return p.State(), true
	case <-time.After(timeout):
		p.Kill()
		return p.State(), false
	}
}

// Kill is a crash: SIGKILL, no chance to clean up. It waits for the exit.
// A process started in a group of its own (SysProcAttr.Setpgid, as
// servers that fork are) is killed with its whole group.
func (p *Process) Kill() {
	if a := p.cmd.SysProcAttr; a != nil && a.Setpgid {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	} else {
		p.cmd.Process.Kill()
	}
	<-p.exited
}

// Output keeps what a process writes (its standard error, a server's
// log), written by the process's copier and read by the test.
type Output struct {
	mu sync.Mutex
	b  strings.Builder
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

// String is what was written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}
