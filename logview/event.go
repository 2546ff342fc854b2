// Package logview reads the relay's JSON event log, for `dkimrelay logs`
// and the status page's search: the current file and the files logrotate
// left beside it (numbered, dated, gzipped) in time order, filtered by
// message, recipient, event and age, optionally following the file across
// rotations, and formatted one readable line per event.
//
// The log is read as it is on disk, not trusted: a line that is not a JSON
// object with a time and an event name (a crash's partial write, another
// program's output, a corrupt gzip member) is skipped and counted, never a
// reason to stop.
package logview

import (
	"bytes"
	"dkimrelay/events"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"
)

// Event is one line of the event log.
type Event struct {
	Time  time.Time
	Level string
	Name  string // the "msg" field: events.Accepted, events.Delivered, ...
	QID   string // "" for events about no message
	// Fields holds every other field as decoded from JSON (numbers as
	// json.Number).
	Fields map[string]any
	// Raw is the line as read, without its line ending.
	Raw []byte
}

// errNotEvent marks a line that is not one of the relay's events.
var errNotEvent = errors.New("not an event")

// Parse reads one log line. It fails for anything but a JSON object with a
// parseable "time" and a non-empty "msg".
func Parse(line []byte) (*Event, error) {
	line = bytes.TrimRight(line, "\r\n")
	if len(line) == 0 || line[0] != '{' {
		return nil, errNotEvent
	}
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errNotEvent // trailing data: two lines glued together
	}
	ts, _ := m[slog.TimeKey].(string)
	name, _ := m[slog.MessageKey].(string)
	if ts == "" || name == "" {
		return nil, errNotEvent
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return nil, err
	}
	e := &Event{Time: t, Name: name, Raw: line}
	e.Level, _ = m[slog.LevelKey].(string)
	e.QID, _ = m[events.QIDKey].(string)
	for _, k := range []string{slog.TimeKey, slog.MessageKey, slog.LevelKey, events.QIDKey} {
		delete(m, k)
	}
	e.Fields = m
	return e, nil
}

// String returns a field as text: strings as they are, lists joined by
// commas, anything else in its JSON form; "" when absent.
func (e *Event) String(key string) string {
	v, ok := e.Fields[key]
	if !ok || v == nil {
		return ""
	}
	return text(v)
}

func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case []any:
		parts := make([]string, len(x))
		for i, p := range x {
			parts[i] = text(p)
		}
		return strings.Join(parts, ",")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Mentions reports whether the event concerns the recipient addr: its
// rcpt field, or one of its rcpts. Addresses compare without regard
// to case: in practice mailboxes are case-insensitive, and the log keeps
// what the application wrote.
func (e *Event) Mentions(addr string) bool {
	if r, ok := e.Fields[events.RcptKey].(string); ok && strings.EqualFold(r, addr) {
		return true
	}
	if list, ok := e.Fields[events.RcptsKey].([]any); ok {
		for _, r := range list {
			if s, ok := r.(string); ok && strings.EqualFold(s, addr) {
				return true
			}
		}
	}
	return false
}

// Filter selects events. Zero fields select everything.
type Filter struct {
	QID    string    // only this message's events
	Rcpt   string    // only events naming this recipient
	Status []string  // only these event names (delivered, deferred, ...)
	Since  time.Time // only events at or after this time
}

// Match reports whether e passes the filter.
func (f *Filter) Match(e *Event) bool {
	if f.QID != "" && e.QID != f.QID {
		return false
	}
	if f.Rcpt != "" && !e.Mentions(f.Rcpt) {
		return false
	}
	if len(f.Status) > 0 {
		ok := false
		for _, s := range f.Status {
			if strings.EqualFold(s, e.Name) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if !f.Since.IsZero() && e.Time.Before(f.Since) {
		return false
	}
	return true
}
