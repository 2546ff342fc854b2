package logview

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, line string
		ok         bool
		qid        string
	}{
		{"event", `{"time":"2026-11-01T09:14:05Z","level":"INFO","msg":"accepted","qid":"Q1","size":12}`, true, "Q1"},
		{"crlf", "{\"time\":\"2026-11-01T09:14:05+01:00\",\"msg\":\"connect\"}\r\n", true, ""},
		{"no time", `{"level":"INFO","msg":"accepted"}`, false, ""},
		{"bad time", `{"time":"yesterday","msg":"accepted"}`, false, ""},
		{"no msg", `{"time":"2026-11-01T09:14:05Z","level":"INFO"}`, false, ""},
		{"msg not a string", `{"time":"2026-11-01T09:14:05Z","msg":7}`, false, ""},
		{"array", `["time","msg"]`, false, ""},
		{"truncated", `{"time":"2026-11-01T09:14:05Z","msg":"acc`, false, ""},
		{"two glued", `{"time":"2026-11-01T09:14:05Z","msg":"a"}{"time":"2026-11-01T09:14:05Z","msg":"b"}`, false, ""},
		{"text", `panic: runtime error`, false, ""},
		{"empty", ``, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse([]byte(tt.line))
			if (err == nil) != tt.ok {
				t.Fatalf("Parse(%q): err = %v, want ok = %v", tt.line, err, tt.ok)
			}
			if tt.ok && e.QID != tt.qid {
				t.Errorf("QID = %q, want %q", e.QID, tt.qid)
			}
		})
	}
}

func TestFilesOrder(t *testing.T) {
	ev := func(ts string) string {
		return fmt.Sprintf(`{"time":%q,"level":"INFO","msg":"x"}`+"\n", ts)
	}
	tests := []struct {
		name  string
		files map[string]string // name -> content; ".gz" names are compressed
		want  []string
	}{
		{
			name: "numbered",
			files: map[string]string{
				"dkimrelay.log":      ev("2026-11-04T00:00:00Z"),
				"dkimrelay.log.1":    ev("2026-11-03T00:00:00Z"),
				"dkimrelay.log.2.gz": ev("2026-11-02T00:00:00Z"),
				"dkimrelay.log.10":   ev("2026-10-01T00:00:00Z"),
				"dkimrelay.log.bak":  ev("2026-01-01T00:00:00Z"),
				"other.log.1":        ev("2026-01-01T00:00:00Z"),
			},
			want: []string{"dkimrelay.log.10", "dkimrelay.log.2.gz", "dkimrelay.log.1", "dkimrelay.log"},
		},
		{
			name: "dated",
			files: map[string]string{
				"dkimrelay.log":             ev("2026-11-04T00:00:00Z"),
				"dkimrelay.log-20261103":    ev("2026-11-03T00:00:00Z"),
				"dkimrelay.log-20261102.gz": ev("2026-11-02T00:00:00Z"),
				"dkimrelay-2026-11-01.log":  ev("2026-11-01T00:00:00Z"),
			},
			want: []string{"dkimrelay-2026-11-01.log", "dkimrelay.log-20261102.gz", "dkimrelay.log-20261103", "dkimrelay.log"},
		},
		{
			name: "current is last even when empty",
			files: map[string]string{
				"dkimrelay.log":   "",
				"dkimrelay.log.1": ev("2026-11-03T00:00:00Z"),
			},
			want: []string{"dkimrelay.log.1", "dkimrelay.log"},
		},
		{
			name: "no current file",
			files: map[string]string{
				"dkimrelay.log.1": ev("2026-11-03T00:00:00Z"),
			},
			want: []string{"dkimrelay.log.1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tt.files {
				writeLog(t, filepath.Join(dir, name), content)
			}
			got, err := Files(filepath.Join(dir, "dkimrelay.log"))
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				got[i] = filepath.Base(got[i])
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("Files = %q, want %q", got, tt.want)
			}
		})
	}
}

func writeLog(t *testing.T, path, content string) {
	t.Helper()
	b := []byte(content)
	if strings.HasSuffix(path, ".gz") {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		b = buf.Bytes()
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedFiles: a truncated gzip file and an endless line are skipped
// with a count and a warning; the events around them are read.
func TestDamagedFiles(t *testing.T) {
	dir := t.TempDir()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	for i := range 200 {
		fmt.Fprintf(zw, `{"time":"2026-11-01T00:%02d:%02dZ","msg":"old","n":%d}`+"\n", i/60, i%60, i)
	}
	zw.Close()
	// Cut the compressed stream in its middle, as a full disk during
	// logrotate's compression would.
	if err := os.WriteFile(filepath.Join(dir, "r.log.2.gz"), gz.Bytes()[:gz.Len()*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "r.log.1.gz"), []byte("not gzip at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	long := `{"time":"2026-11-02T00:00:00Z","msg":"huge","x":"` + strings.Repeat("a", maxLine+10) + `"}`
	writeLog(t, filepath.Join(dir, "r.log"),
		`{"time":"2026-11-02T00:00:00Z","msg":"before"}`+"\n"+long+"\n"+`{"time":"2026-11-02T00:00:01Z","msg":"after"}`+"\n")

	var names []string
	var warnings []string
	r := &Reader{
		Path: filepath.Join(dir, "r.log"),
		Emit: func(e *Event) error { names = append(names, e.Name); return nil },
		Warn: func(s string) { warnings = append(warnings, s) },
	}
	if err := r.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	old := 0
	for _, n := range names {
		if n == "old" {
			old++
		}
	}
	if old == 0 || old >= 200 {
		t.Errorf("read %d events of the truncated gzip file, want some but not all 200", old)
	}
	if tail := strings.Join(names[old:], " "); tail != "before after" {
		t.Errorf("events after the gzip file = %q, want %q", tail, "before after")
	}
	// The truncated gzip, the file that is not gzip, the long line.
	if r.Skipped != 3 {
		t.Errorf("Skipped = %d, want 3", r.Skipped)
	}
	if len(warnings) != 2 {
		t.Errorf("warnings = %q, want one for each damaged file", warnings)
	}
}

func TestReadFrom(t *testing.T) {
	in := strings.NewReader("junk\n" + `{"time":"2026-11-02T00:00:00Z","msg":"a","qid":"Q"}` + "\n" + `{"time":"2026-11-02T00:00:01Z","msg":"b","qid":"R"}`)
	var got []string
	r := &Reader{Filter: Filter{QID: "R"}, Emit: func(e *Event) error { got = append(got, e.Name); return nil }}
	if err := r.ReadFrom(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "b" || r.Skipped != 1 {
		t.Errorf("got %q and %d skipped, want [b] and 1", got, r.Skipped)
	}
}

// collector gathers events from Follow, which runs in another goroutine.
type collector struct {
	mu   sync.Mutex
	got  []string
	more chan struct{}
}

func (c *collector) emit(e *Event) error {
	c.mu.Lock()
	c.got = append(c.got, e.String("n"))
	c.mu.Unlock()
	select {
	case c.more <- struct{}{}:
	default:
	}
	return nil
}

// waitFor waits until the events seen so far are want. The deadline only
// keeps a broken Follow from hanging the test; nothing measures speed.
func (c *collector) waitFor(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		c.mu.Lock()
		got := strings.Join(c.got, " ")
		c.mu.Unlock()
		if got == strings.Join(want, " ") {
			return
		}
		select {
		case <-c.more:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("followed events = %q, want %q", got, want)
		}
	}
}

func appendLine(t *testing.T, f *os.File, n string) {
	t.Helper()
	if _, err := fmt.Fprintf(f, `{"time":"2026-11-02T00:00:00Z","msg":"e","n":%q}`+"\n", n); err != nil {
		t.Fatal(err)
	}
}

// TestFollowRotation follows the log as the relay and logrotate use it:
// appends, a line written in two pieces, a rename with a last line written
// to the old file, a new file, and a copytruncate.
func TestFollowRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dkimrelay.log")
	writeLog(t, path+".1", `{"time":"2026-11-01T00:00:00Z","msg":"e","n":"0"}`+"\n")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { f.Close() }()
	appendLine(t, f, "1")

	c := &collector{more: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	r := &Reader{Path: path, Emit: c.emit, Poll: 5 * time.Millisecond}
	go func() { done <- r.Follow(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Follow: %v", err)
		}
	}()
	c.waitFor(t, "0", "1")

	appendLine(t, f, "2")
	c.waitFor(t, "0", "1", "2")

	// A line whose write arrives in two pieces is read once, whole.
	f.WriteString(`{"time":"2026-11-02T00:00:00Z","msg":"e",`)
	time.Sleep(30 * time.Millisecond) // let Follow see the partial line
	f.WriteString(`"n":"3"}` + "\n")
	c.waitFor(t, "0", "1", "2", "3")

	// logrotate renames; the relay writes once more to the old file
	// before SIGUSR1 makes it reopen; then it writes to the new file.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendLine(t, f, "4")
	f.Close()
	if f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640); err != nil {
		t.Fatal(err)
	}
	appendLine(t, f, "5")
	c.waitFor(t, "0", "1", "2", "3", "4", "5")
	appendLine(t, f, "6")
	c.waitFor(t, "0", "1", "2", "3", "4", "5", "6")

	// copytruncate: the same file is emptied, then written again.
	if err := f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	appendLine(t, f, "7")
	c.waitFor(t, "0", "1", "2", "3", "4", "5", "6", "7")
}
