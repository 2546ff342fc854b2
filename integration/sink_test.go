package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
)

// The two loopback addresses that play the remote mail servers. On Linux the
// whole of 127.0.0.0/8 is routed to lo, so each is a host of its own.
const (
	hostA = "127.0.0.2"
	hostB = "127.0.0.3"
)

// sinkPair is the two sinks of a test (internal/smtpsink), on hostA and
// hostB with one port, because the relay's delivery.port is the same for
// every MX host.
type sinkPair struct {
	A, B *smtpsink.Sink
	Port int
}

// newSinkPair starts sinks on hostA:P and hostB:P for a port P free on
// both. They offer STARTTLS with a self-signed certificate, as most MX hosts
// do, and stop when the test ends. setup, when given, adjusts each sink's
// config (by its host) before it starts.
func newSinkPair(t testing.TB, setup ...func(host string, c *smtpsink.Config)) *sinkPair {
	t.Helper()
	port, lns := testkit.ListenSame(t, hostA, hostB)
	p := &sinkPair{Port: port}
	for i, host := range []string{hostA, hostB} {
		cfg := smtpsink.Config{
			Hostname:        "sink-" + host,
			TLS:             testkit.SinkTLS(t),
			SMTPUTF8:        true,
			MaxMessageBytes: 64 << 20,
			Timeout:         time.Minute,
		}
		for _, f := range setup {
			f(host, &cfg)
		}
		s := testkit.ServeSink(t, lns[i], cfg)
		if i == 0 {
			p.A = s
		} else {
			p.B = s
		}
	}
	return p
}

// all returns the messages of both sinks.
func (p *sinkPair) all() []smtpsink.Message {
	return append(p.A.Messages(), p.B.Messages()...)
}

// waitFor polls both sinks until cond holds for what they accepted, and
// fails the test with what did arrive after timeout.
func (p *sinkPair) waitFor(t testing.TB, timeout time.Duration, what string, cond func([]smtpsink.Message) bool) []smtpsink.Message {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msgs := p.all()
		if cond(msgs) {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("sinks: waited %v for %s; they hold %d message(s): %s", timeout, what, len(msgs), summarize(msgs))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// waitForTestID waits until a message carrying "X-Test-ID: id" arrived and
// returns the first such message.
func (p *sinkPair) waitForTestID(t testing.TB, timeout time.Duration, id string) smtpsink.Message {
	t.Helper()
	msgs := p.waitFor(t, timeout, "X-Test-ID "+id, func(ms []smtpsink.Message) bool {
		return len(withTestID(ms, id)) > 0
	})
	return withTestID(msgs, id)[0]
}

// testID is the X-Test-ID header field of m, how tests tell messages
// apart.
func testID(m smtpsink.Message) string { return m.Header("X-Test-ID") }

// withTestID filters messages by their X-Test-ID header.
func withTestID(msgs []smtpsink.Message, id string) []smtpsink.Message {
	var out []smtpsink.Message
	for _, m := range msgs {
		if testID(m) == id {
			out = append(out, m)
		}
	}
	return out
}

func summarize(msgs []smtpsink.Message) string {
	var b strings.Builder
	for i, m := range msgs {
		if i == 10 {
			fmt.Fprintf(&b, " ... and %d more", len(msgs)-i)
			break
		}
		fmt.Fprintf(&b, "[%s from=<%s> to=%v id=%q subject=%q] ", m.Local, m.From, m.To, testID(m), m.Header("Subject"))
	}
	return b.String()
}
