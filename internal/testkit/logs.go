package testkit

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// Logs collects a JSON log (log/slog's JSONHandler) written by many
// goroutines, and finds its events by name.
type Logs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// NewLogs returns a Logs that fails the test, when it ends, if a line of
// the log is not a JSON object.
func NewLogs(t testing.TB) *Logs {
	l := &Logs{}
	t.Cleanup(func() {
		for _, line := range strings.Split(l.String(), "\n") {
			var ev map[string]any
			if line != "" && json.Unmarshal([]byte(line), &ev) != nil {
				t.Errorf("log line %q is not JSON", line)
			}
		}
	})
	return l
}

// Logger is a debug-level JSON logger writing to l.
func (l *Logs) Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// Events returns the logged events named msg.
func (l *Logs) Events(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(l.b.String(), "\n") {
		var ev map[string]any
		if json.Unmarshal([]byte(line), &ev) == nil && ev["msg"] == msg {
			out = append(out, ev)
		}
	}
	return out
}

// String is the whole log.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Tail is the last n bytes of the log, for failure messages.
func (l *Logs) Tail(n int) string {
	s := l.String()
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}
