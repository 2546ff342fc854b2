package testkit

import (
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"dkimrelay/internal/selfsigned"
	"dkimrelay/internal/smtpsink"
)

// ServeSink starts a sink set up by cfg on ln; it stops when the test
// ends.
func ServeSink(t testing.TB, ln net.Listener, cfg smtpsink.Config) *smtpsink.Sink {
	s := smtpsink.New(cfg)
	s.Start(ln)
	t.Cleanup(func() { s.Close() })
	return s
}

// The names the shared sink certificate is for: the MX and smarthost
// names of the tests and the loopback hosts.
var sinkNames = []string{"sink.example.net", "mx1.example.net", "mx2.example.net", "mx.example.org", "mx.example.com",
	"smarthost.example.net", "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"}

var (
	sinkCertOnce sync.Once
	sinkCert     tls.Certificate
	sinkCertErr  error
)

// SinkTLS returns a TLS config with one self-signed ECDSA certificate
// shared by every sink of the test binary (ECDSA keeps the many
// handshakes of a crash test cheap). Delivery to MX hosts is
// opportunistic, so nothing needs to trust it.
func SinkTLS(t testing.TB) *tls.Config {
	t.Helper()
	sinkCertOnce.Do(func() { sinkCert, sinkCertErr = selfsigned.Certificate(sinkNames...) })
	if sinkCertErr != nil {
		t.Fatalf("sink certificate: %v", sinkCertErr)
	}
	return &tls.Config{Certificates: []tls.Certificate{sinkCert}, MinVersion: tls.VersionTLS12}
}

// Await polls cond until it holds, and fails the test saying what it
// waited for after timeout. The deadline only keeps a broken program from
// hanging the test; nothing measures speed.
func Await(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// AwaitMessage waits until one of sinks accepted a message whose data
// contains text, and returns the first such message.
func AwaitMessage(t testing.TB, timeout time.Duration, text string, sinks ...*smtpsink.Sink) smtpsink.Message {
	t.Helper()
	var found []smtpsink.Message
	deadline := time.Now().Add(timeout)
	for {
		for _, s := range sinks {
			found = append(found, WithText(s.Messages(), text)...)
		}
		if len(found) > 0 {
			return found[0]
		}
		if time.Now().After(deadline) {
			n := 0
			for _, s := range sinks {
				n += len(s.Messages())
			}
			t.Fatalf("no message with %q arrived within %v (%d arrived)", text, timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WithText returns the messages whose data contains text.
func WithText(msgs []smtpsink.Message, text string) []smtpsink.Message {
	var out []smtpsink.Message
	for _, m := range msgs {
		if strings.Contains(string(m.Data), text) {
			out = append(out, m)
		}
	}
	return out
}

// SMTPError is a reply for a sink's Replier: code, the enhanced code
// as "x.y.z" (RFC 3463), and text.
func SMTPError(code int, enhanced, text string) *smtp.SMTPError {
	var ec smtp.EnhancedCode
	if _, err := fmt.Sscanf(enhanced, "%d.%d.%d", &ec[0], &ec[1], &ec[2]); err != nil {
		panic(fmt.Sprintf("testkit: enhanced code %q: %v", enhanced, err))
	}
	return &smtp.SMTPError{Code: code, EnhancedCode: ec, Message: text}
}
