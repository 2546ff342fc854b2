package testkit

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// ServerBinary finds the program name of a Debian server package pkg
// (knotd, dovecot, unbound): in PATH, or in /usr/sbin, where Debian
// installs servers and which is not always in a test's PATH.
func ServerBinary(name, pkg string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if p := "/usr/sbin/" + name; fileExists(p) {
		return p, nil
	}
	return "", fmt.Errorf("%s is not installed: apt-get install %s (scripts/test.sh does)", name, pkg)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// daemonStopTimeout is how long a test's server has to stop on SIGTERM
// before it is killed.
const daemonStopTimeout = 10 * time.Second

// StartDaemon starts cmd, a server the test talks to (its output going
// where cmd says), and stops it when the test ends: SIGTERM, then SIGKILL
// after ten seconds. When the test failed, what logs returns is logged
// under name.
func StartDaemon(t testing.TB, name string, cmd *exec.Cmd, logs func() string) *Process {
	t.Helper()
	p := StartProcess(t, cmd)
	t.Cleanup(func() {
		p.Stop(daemonStopTimeout)
		if t.Failed() && logs != nil {
			t.Logf("%s log:\n%s", name, logs())
		}
	})
	return p
}

// FreeUDPAndTCPPort returns a port free for both TCP and UDP on
// 127.0.0.1 at the time of the call, for a DNS server. Another process
// may take it before the server binds it; the server's readiness check
// then fails loudly.
func FreeUDPAndTCPPort(t testing.TB) string {
	t.Helper()
	var lastErr error
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		pc, err := net.ListenPacket("udp", addr)
		ln.Close()
		if err == nil {
			pc.Close()
			_, port, _ := net.SplitHostPort(addr)
			return port
		}
		lastErr = err
	}
	t.Fatalf("no port free for both TCP and UDP on 127.0.0.1: %v", lastErr)
	return ""
}
