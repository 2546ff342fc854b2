package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// event is one JSON line of the relay's log (README.md, "Log events").
type event map[string]any

// name is the event name, carried in "msg".
func (e event) name() string { return e.str("msg") }

// str returns a field as text whatever its JSON type ("" when absent).
func (e event) str(key string) string {
	v, ok := e[key]
	if !ok || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// list returns a field that is an array of strings (rcpts, dkim).
func (e event) list(key string) []string {
	var out []string
	switch v := e[key].(type) {
	case []any:
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
	case string:
		out = strings.Fields(strings.NewReplacer(",", " ").Replace(v))
	}
	return out
}

func (e event) String() string {
	b, _ := json.Marshal(map[string]any(e))
	return string(b)
}

// events reads the relay's log. A line cut short by SIGKILL is not JSON; it
// is skipped, as a log reader must.
func (r *relay) events() []event {
	data, err := os.ReadFile(filepath.Join(r.dir, "relay.log"))
	if err != nil {
		return nil
	}
	var out []event
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var e event
		if json.Unmarshal(line, &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

// eventsNamed returns the events called name, for qid when qid is not "".
func (r *relay) eventsNamed(name, qid string) []event {
	var out []event
	for _, e := range r.events() {
		if e.name() == name && (qid == "" || e.str("qid") == qid) {
			out = append(out, e)
		}
	}
	return out
}

// waitEvent polls the log until an event called name satisfies match (nil
// matches any) and returns it.
func (r *relay) waitEvent(t testing.TB, timeout time.Duration, name string, match func(event) bool) event {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, e := range r.events() {
			if e.name() == name && (match == nil || match(e)) {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("log: no matching %q event after %v", name, timeout)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// forQID matches events of one message, and rcpt when it is not "".
func forQID(qid, rcpt string) func(event) bool {
	return func(e event) bool {
		return e.str("qid") == qid && (rcpt == "" || strings.EqualFold(e.str("rcpt"), rcpt))
	}
}
