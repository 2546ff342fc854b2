package main

import (
	"encoding/json"
	"io"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
)

// startServer starts a submission server that wants STARTTLS and AUTH
// PLAIN and counts what it gets.
func startServer(t *testing.T) (*smtpsink.Sink, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := testkit.ServeSink(t, ln, smtpsink.Config{
		Hostname:    "relay.test",
		TLS:         testkit.SinkTLS(t),
		AuthMechs:   []string{sasl.Plain},
		Users:       map[string]string{"bench": "secret-password"},
		RequireAuth: true,
		Discard:     true,
		// A moment per message, so that every connection of a run gets
		// messages to send before the others have sent them all.
		DataHook: func(*smtp.Conn, io.Reader) error { time.Sleep(5 * time.Millisecond); return nil },
	})
	return s, ln.Addr().String()
}

func TestRun(t *testing.T) {
	s, addr := startServer(t)
	before := time.Now()
	res, err := Run(Options{Addr: addr, User: "bench", Password: "secret-password",
		From: "notifications@example.org", To: "b@example.net", N: 20, C: 3, Size: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 20 || res.Failed != 0 || len(res.Latencies) != 20 {
		t.Errorf("sent %d, failed %d, %d latencies; want 20, 0, 20", res.Sent, res.Failed, len(res.Latencies))
	}
	st := s.Stats()
	msgs, auths, resets := st.Messages, st.Logins, st.Resets
	// One AUTH per connection, RSET after every message.
	if msgs != 20 || auths != 3 || resets < 20 {
		t.Errorf("server saw %d messages, %d logins, %d resets; want 20, 3, at least 20", msgs, auths, resets)
	}
	sum := res.Summary()
	if sum.FirstSubmit.Before(before) || sum.LastReply.Before(sum.FirstSubmit) || sum.P50ms <= 0 || sum.Maxms < sum.P99ms {
		t.Errorf("summary times: %+v", sum)
	}
	b, err := json.Marshal(sum)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	json.Unmarshal(b, &back)
	for _, k := range []string{"first_submit", "accepted_per_s", "p99_ms", "sent"} {
		if _, ok := back[k]; !ok {
			t.Errorf("JSON summary lacks %q: %s", k, b)
		}
	}
}

// -reconnect: a connection and a login for every message, no RSET.
func TestRunReconnect(t *testing.T) {
	s, addr := startServer(t)
	res, err := Run(Options{Addr: addr, User: "bench", Password: "secret-password",
		From: "notifications@example.org", To: "b@example.net", N: 10, C: 2, Size: 1024, Reconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 10 || res.Failed != 0 {
		t.Errorf("sent %d, failed %d; want 10, 0", res.Sent, res.Failed)
	}
	st := s.Stats()
	msgs, auths := st.Messages, st.Logins
	if msgs != 10 || auths != 10 {
		t.Errorf("server saw %d messages and %d logins; want 10 and 10", msgs, auths)
	}
	if !res.Summary().Reconnect {
		t.Error("the summary does not say -reconnect")
	}
}

func TestRunBadPassword(t *testing.T) {
	_, addr := startServer(t)
	_, err := Run(Options{Addr: addr, User: "bench", Password: "wrong", From: "a@example.org", To: "b@example.net", N: 2, C: 1, Size: 1024})
	if err == nil {
		t.Error("Run with a wrong password succeeded")
	}
}

func TestMessageSize(t *testing.T) {
	for _, size := range []int{1024, 4096, 100 << 10} {
		m := Message("notifications@example.org", "b@example.net", 1, 0, size)
		if d := len(m) - size; d < -200 || d > 400 {
			t.Errorf("Message of size %d is %d bytes", size, len(m))
		}
	}
}
