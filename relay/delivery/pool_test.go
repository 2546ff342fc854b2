package delivery

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
	"dkimrelay/relay/outcome"
)

// countingListener counts accepted connections and can drop them all, as
// a server that times out idle sessions does.
type countingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *countingListener) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

func (l *countingListener) dropAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
}

// TestSessionReuse sends several messages in a row to one MX and checks how
// many connections it took, and that every message arrived whole.
func TestSessionReuse(t *testing.T) {
	tests := []struct {
		name      string
		cfg       func(*Config)
		between   func(*countingListener, *smtpsink.Sink) // after each delivery
		onMail    func(n int) error                       // n counts MAIL commands from 1
		wantConns int
	}{
		{name: "one session for all", wantConns: 1},
		{name: "reuse off", cfg: func(c *Config) { c.ReuseIdle = -1 }, wantConns: 3},
		{
			// The server dropped the idle session: each message notices
			// at MAIL FROM and goes on a new connection, unharmed.
			name:      "server closed the idle session",
			between:   func(l *countingListener, _ *smtpsink.Sink) { l.dropAll(); time.Sleep(20 * time.Millisecond) },
			wantConns: 3,
		},
		{
			// RFC 5321 section 3.8: a server about to close answers 421.
			name: "421 on a reused session",
			onMail: func(n int) error {
				if n == 2 {
					return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "idle too long, closing"}
				}
				return nil
			},
			wantConns: 2,
		},
		{
			name:      "idle timeout passed",
			cfg:       func(c *Config) { c.ReuseIdle = 30 * time.Millisecond },
			between:   func(*countingListener, *smtpsink.Sink) { time.Sleep(150 * time.Millisecond) },
			wantConns: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.dns.Add("example.net. MX 10 mx1.test.")
			cert := testkit.SelfSigned(t, "mx1.test")
			ln := &countingListener{Listener: e.ln2}
			var mu sync.Mutex
			mails := 0
			s := serveSink(t, ln, withTLS(cert), withReply(smtpsink.At(smtpsink.Mail, func(string) error {
				mu.Lock()
				mails++
				n := mails
				mu.Unlock()
				if tt.onMail != nil {
					return tt.onMail(n)
				}
				return nil
			})))
			var mods []func(*Config)
			if tt.cfg != nil {
				mods = append(mods, tt.cfg)
			}
			d := e.deliverer(t, mods...)
			defer d.Close()
			rcpts := []string{"alice@example.net"}
			for i := range 3 {
				got := d.Deliver(context.Background(), message(body, rcpts...))
				check(t, got, rcpts, want{status: outcome.Delivered, code: 250, mx: "mx1.test", tls: "TLS1.3", reply: "250"})
				if tt.between != nil && i < 2 {
					tt.between(ln, s)
				}
			}
			if n := ln.count(); n != tt.wantConns {
				t.Errorf("%d connections for 3 messages, want %d", n, tt.wantConns)
			}
			got := s.Messages()
			if len(got) != 3 {
				t.Fatalf("sink has %d messages, want 3", len(got))
			}
			for i, r := range got {
				if string(r.Data) != body || !r.TLS || r.Helo != "relay.test" {
					t.Errorf("message %d: tls=%v helo=%q data=%q", i, r.TLS, r.Helo, r.Data)
				}
			}
		})
	}
}

// TestSessionReuseConcurrent delivers many messages at once: sessions are
// shared out, never used by two transactions at a time, and no more than
// MaxPerDomain are opened.
func TestSessionReuseConcurrent(t *testing.T) {
	e := newEnv(t)
	e.dns.Add("example.net. MX 10 mx1.test.")
	ln := &countingListener{Listener: e.ln2}
	s := serveSink(t, ln)
	d := e.deliverer(t, func(c *Config) { c.MaxPerDomain = 3 })
	defer d.Close()
	var wg sync.WaitGroup
	const n = 30
	for range n {
		wg.Go(func() {
			rcpts := []string{"bob@example.net"}
			got := d.Deliver(context.Background(), message(body, rcpts...))
			check(t, got, rcpts, want{status: outcome.Delivered, code: 250, mx: "mx1.test", reply: "250"})
		})
	}
	wg.Wait()
	if got := len(s.Messages()); got != n {
		t.Errorf("sink has %d messages, want %d", got, n)
	}
	if c := ln.count(); c > 3 {
		t.Errorf("%d connections, want at most MaxPerDomain = 3", c)
	}
	d.Close()
	d.pool.mu.Lock()
	idle := len(d.pool.conns)
	d.pool.mu.Unlock()
	if idle != 0 {
		t.Errorf("%d keys still hold idle sessions after Close", idle)
	}
}

func TestPoolLimits(t *testing.T) {
	var clock atomic.Int64 // the sweep timer reads it from its own goroutine
	clock.Store(1000)
	now := time.Unix(1000, 0)
	p := newPool(time.Second, time.Minute, 2)
	p.now = func() time.Time { return time.Unix(clock.Load(), 0) }
	defer p.closeAll()
	clients := make([]*client, 3)
	for i := range clients {
		a, b := net.Pipe()
		defer b.Close()
		go func() { // answer QUIT
			buf := make([]byte, 64)
			b.Read(buf)
			b.Write([]byte("221 bye\r\n"))
		}()
		clients[i] = newClient(a, time.Second)
	}
	p.put("k", clients[0], now)
	p.put("k", clients[1], now)
	p.put("k", clients[2], now) // one too many: ended at once
	if got, _ := p.get("k"); got != clients[1] {
		t.Error("get did not return the most recently used session")
	}
	if got, _ := p.get("other"); got != nil {
		t.Error("get returned a session for another key")
	}
	now = now.Add(2 * time.Second) // clients[0] idled out
	clock.Store(now.Unix())
	if got, _ := p.get("k"); got != nil {
		t.Error("get returned a session idle past the limit")
	}
	// A session past its age is not pooled again.
	p.put("k", clients[1], now.Add(-time.Hour))
	if got, _ := p.get("k"); got != nil {
		t.Error("get returned a session older than maxAge")
	}
	var nilPool *pool
	if got, _ := nilPool.get("k"); got != nil {
		t.Error("a nil pool returned a session")
	}
}

// TestPipelining plays a server by script: with PIPELINING advertised it
// reads MAIL, both RCPTs and DATA before it answers any (a client that
// waited for each reply would stall); without, it answers line by line.
func TestPipelining(t *testing.T) {
	for _, advertise := range []bool{true, false} {
		name := "without PIPELINING"
		if advertise {
			name = "with PIPELINING"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.dns.Add("example.net. MX 10 mx1.test.")
			got := make(chan []string, 1)
			testkit.ServeRaw(t, e.ln2, func(conn net.Conn) {
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				r := bufio.NewReader(conn)
				say := func(s string) { conn.Write([]byte(s + "\r\n")) }
				line := func() string {
					l, err := r.ReadString('\n')
					if err != nil {
						return ""
					}
					return strings.TrimRight(l, "\r\n")
				}
				say("220 raw.test ESMTP")
				line() // EHLO
				if advertise {
					say("250-raw.test\r\n250 PIPELINING")
				} else {
					say("250 raw.test")
				}
				var cmds []string
				replies := []string{"250 2.1.0 ok", "250 2.1.5 ok", "550 5.1.1 no such user", "354 go on"}
				if advertise {
					for range 4 {
						cmds = append(cmds, line())
					}
					for _, rep := range replies {
						say(rep)
					}
				} else {
					for _, rep := range replies {
						cmds = append(cmds, line())
						say(rep)
					}
				}
				for l := line(); l != "." && l != ""; l = line() {
				}
				say("250 2.0.0 queued")
				got <- cmds
				line() // QUIT or nothing
				say("221 bye")
			})
			d := e.deliverer(t, func(c *Config) { c.ReuseIdle = -1 })
			rcpts := []string{"a@example.net", "nobody@example.net"}
			res := d.Deliver(context.Background(), message(body, rcpts...))
			check(t, res, rcpts,
				want{status: outcome.Delivered, code: 250, mx: "mx1.test", reply: "250 2.0.0 queued"},
				want{status: outcome.Permanent, code: 550, mx: "mx1.test", enhanced: "5.1.1", reply: "no such user"})
			cmds := <-got
			wantCmds := []string{"MAIL FROM:<app@relay.test>", "RCPT TO:<a@example.net>", "RCPT TO:<nobody@example.net>", "DATA"}
			if strings.Join(cmds, "|") != strings.Join(wantCmds, "|") {
				t.Errorf("server read %q, want %q", cmds, wantCmds)
			}
		})
	}
}
