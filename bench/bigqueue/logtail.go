package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// event is what the bench reads from one line of the relay's JSON log
// (relay.OpenLog: slog's JSON handler, "time" first, "msg" the event).
type event struct {
	Time     time.Time `json:"time"`
	Msg      string    `json:"msg"`
	Messages int       `json:"messages"` // queue_loaded, retry
	Queued   int       `json:"queued"`   // started
}

// logTail reads the lines appended to the relay's log file since an
// offset, so each measurement sees the events of its own run only.
type logTail struct {
	path    string
	off     int64
	partial []byte // a line not yet ended by its newline
}

// tailFromEnd starts a tail at the current end of path (0 if it does not
// exist yet).
func tailFromEnd(path string) *logTail {
	t := &logTail{path: path}
	if fi, err := os.Stat(path); err == nil {
		t.off = fi.Size()
	}
	return t
}

// lines returns the complete lines appended since the last call.
func (t *logTail) lines() ([][]byte, error) {
	f, err := os.Open(t.path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(t.off, io.SeekStart); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	t.off += int64(len(b))
	b = append(t.partial, b...)
	end := bytes.LastIndexByte(b, '\n')
	if end < 0 {
		t.partial = b
		return nil, nil
	}
	t.partial = append([]byte(nil), b[end+1:]...)
	return bytes.Split(b[:end], []byte("\n")), nil
}

// parseEvent decodes one log line.
func parseEvent(line []byte) (event, error) {
	var e event
	if err := json.Unmarshal(line, &e); err != nil {
		return e, fmt.Errorf("relay log line %q: %w", line, err)
	}
	return e, nil
}

// deliveredTime returns the time of a "delivered" event without decoding
// the whole line: with 100,000 deliveries to follow on two cores, the
// bench should take as little CPU from the relay as it can. slog's JSON
// handler writes "time" first and "msg" third; a line of another shape
// falls back to a full decode.
func deliveredTime(line []byte) (time.Time, bool) {
	const head = `{"time":"`
	if !bytes.Contains(line, []byte(`"msg":"delivered"`)) {
		return time.Time{}, false
	}
	if bytes.HasPrefix(line, []byte(head)) {
		rest := line[len(head):]
		if i := bytes.IndexByte(rest, '"'); i > 0 {
			if t, err := time.Parse(time.RFC3339Nano, string(rest[:i])); err == nil {
				return t, true
			}
		}
	}
	e, err := parseEvent(line)
	if err != nil || e.Msg != "delivered" {
		return time.Time{}, false
	}
	return e.Time, true
}
