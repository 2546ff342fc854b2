package events

import (
	"io"
	"log/slog"
	"os"
	"sync"
)

// LogFile is the event log's destination: the configured file, opened for
// appending, which Reopen closes and opens again so logrotate can move it
// away without copytruncate (SIGUSR1 or SIGHUP after the move).
type LogFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// OpenLog returns the relay's JSON event logger writing to path ("" means
// stderr) at the given level.
func OpenLog(path string, level slog.Level) (*slog.Logger, *LogFile, error) {
	lf := &LogFile{path: path}
	if path != "" {
		if err := lf.Reopen(); err != nil {
			return nil, nil, err
		}
	}
	var w io.Writer = os.Stderr
	if path != "" {
		w = lf
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})), lf, nil
}

// Write implements io.Writer; each call is one whole JSON line.
func (l *LogFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

// Reopen opens the log path anew.
func (l *LogFile) Reopen() error {
	if l.path == "" {
		return nil
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

// Close closes the file.
func (l *LogFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	return l.f.Close()
}
