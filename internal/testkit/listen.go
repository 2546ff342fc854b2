package testkit

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// ListenSame listens on one port P on each of hosts and returns P and the
// listeners, closed when the test ends: a relay's delivery port is one
// for every MX host.
func ListenSame(t testing.TB, hosts ...string) (int, []net.Listener) {
	t.Helper()
	for range 50 {
		first, err := net.Listen("tcp", net.JoinHostPort(hosts[0], "0"))
		if err != nil {
			t.Fatalf("listen on %s (the loopback range must be routed to lo): %v", hosts[0], err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{first}
		for _, h := range hosts[1:] {
			ln, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(port)))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		if len(lns) == len(hosts) {
			t.Cleanup(func() {
				for _, ln := range lns {
					ln.Close()
				}
			})
			return port, lns
		}
		for _, ln := range lns {
			ln.Close()
		}
	}
	t.Fatalf("no port free on all of %v", hosts)
	return 0, nil
}

// FreePort returns a TCP port free on host at the time of the call, for
// a server the test starts in another process. It is drawn at random
// below the kernel's ephemeral range (net.ipv4.ip_local_port_range), from
// which every outgoing connection and every listen on port 0 take theirs:
// a port from that range, free when asked, is often taken by some other
// test's connection before the server binds it.
func FreePort(t testing.TB, host string) string {
	t.Helper()
	low := ephemeralLow()
	for range 200 {
		port := strconv.Itoa(freePortFloor + rand.IntN(low-freePortFloor))
		ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
		if err == nil {
			ln.Close()
			return port
		}
	}
	t.Fatalf("no free TCP port on %s between %d and %d", host, freePortFloor, low)
	return ""
}

// freePortFloor is the lowest port FreePort gives: above the ports of
// system services.
const freePortFloor = 12000

// ephemeralLow is the first port of the kernel's ephemeral range, 32768
// when it cannot be read.
func ephemeralLow() int {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > freePortFloor+1000 {
				low = n
			}
		}
	}
	return low
}

// ServeRaw accepts connections on ln and hands each to handle, which
// plays a peer that misbehaves below SMTP (silent, stalling, dropping).
// The connection is closed when handle returns; ln when the test ends.
func ServeRaw(t testing.TB, ln net.Listener, handle func(net.Conn)) {
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				handle(conn)
			})
		}
	})
}
