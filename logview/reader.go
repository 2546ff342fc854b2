package logview

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// maxLine bounds one log line. The relay's events are far smaller; a
// longer line is damage (or not the relay's) and is skipped in pieces,
// never held whole.
const maxLine = 1 << 20

// Reader reads the event log at Path with its rotated files.
type Reader struct {
	Path   string
	Filter Filter
	// Emit receives each matching event in order; an error stops the
	// reading (stdout closed).
	Emit func(*Event) error
	// Warn receives problems with a whole file (unreadable, a corrupt
	// gzip stream); nil discards them.
	Warn func(string)
	// Poll is how often Follow looks for new lines; default 250ms.
	Poll time.Duration

	// Skipped counts the damaged or foreign lines passed over.
	Skipped int
	// Matched counts the events given to Emit.
	Matched int
}

// Read reads every file once, oldest first.
func (r *Reader) Read(ctx context.Context) error {
	files, err := r.files()
	if err != nil {
		return err
	}
	for _, p := range files {
		if err := r.readFile(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// ReadFrom reads a log stream (standard input, say journalctl's output).
func (r *Reader) ReadFrom(ctx context.Context, src io.Reader) error {
	var s splitter
	if err := s.read(ctx, src, r.line); err != nil {
		return err
	}
	return s.flush(r.line)
}

// files lists what Read covers. With Filter.Since, a rotated file last
// written before it cannot hold a matching event and is not opened.
func (r *Reader) files() ([]string, error) {
	files, err := Files(r.Path)
	if err != nil {
		return nil, fmt.Errorf("reading the log folder: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("log file %s does not exist: has the relay run with this log.file?", r.Path)
	}
	if r.Filter.Since.IsZero() {
		return files, nil
	}
	var out []string
	for i, p := range files {
		st, err := os.Stat(p)
		if i < len(files)-1 && err == nil && st.ModTime().Before(r.Filter.Since) {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

func (r *Reader) warn(format string, a ...any) {
	if r.Warn != nil {
		r.Warn(fmt.Sprintf(format, a...))
	}
}

func (r *Reader) readFile(ctx context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		r.warn("skipping %s: %v", path, err)
		return nil
	}
	defer f.Close()
	src, err := open(f, path)
	if err != nil {
		r.warn("skipping %s: %v", path, err)
		r.Skipped++
		return nil
	}
	var s splitter
	err = s.read(ctx, src, r.line)
	var emitErr *emitError
	if errors.As(err, &emitErr) || ctx.Err() != nil {
		return err
	}
	if err != nil {
		// A truncated or corrupt gzip file: what was read stands; the
		// line cut by the damage is part of it.
		r.warn("%s is damaged after the events shown: %v", path, err)
		r.Skipped++
		return nil
	}
	return s.flush(r.line)
}

// emitError is an error from Emit, which stops reading.
type emitError struct{ err error }

func (e *emitError) Error() string { return e.err.Error() }
func (e *emitError) Unwrap() error { return e.err }

// line handles one complete line; damaged is true for a line that was
// too long.
func (r *Reader) line(b []byte, damaged bool) error {
	if damaged {
		r.Skipped++
		return nil
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	e, err := Parse(b)
	if err != nil {
		r.Skipped++
		return nil
	}
	if !r.Filter.Match(e) {
		return nil
	}
	e.Raw = bytes.Clone(e.Raw)
	r.Matched++
	if err := r.Emit(e); err != nil {
		return &emitError{err}
	}
	return nil
}

// splitter cuts a byte stream into lines, keeping a partial last line
// until more arrives (a line being written while it is read).
type splitter struct {
	pending    []byte
	discarding bool // inside a line longer than maxLine
}

// read consumes src to EOF, handing each complete line to fn.
func (s *splitter) read(ctx context.Context, src io.Reader, fn func([]byte, bool) error) error {
	buf := make([]byte, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := src.Read(buf)
		if n > 0 {
			if ferr := s.feed(buf[:n], fn); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (s *splitter) feed(b []byte, fn func([]byte, bool) error) error {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if !s.discarding {
				s.pending = append(s.pending, b...)
				if len(s.pending) > maxLine {
					s.pending, s.discarding = nil, true
					if err := fn(nil, true); err != nil {
						return err
					}
				}
			}
			return nil
		}
		if s.discarding {
			s.discarding = false
		} else {
			line := b[:i]
			if len(s.pending) > 0 {
				line = append(s.pending, line...)
			}
			s.pending = s.pending[:0]
			if len(line) > maxLine {
				if err := fn(nil, true); err != nil {
					return err
				}
			} else if err := fn(line, false); err != nil {
				return err
			}
		}
		b = b[i+1:]
	}
	return nil
}

// flush hands over a last line that has no line ending.
func (s *splitter) flush(fn func([]byte, bool) error) error {
	if s.discarding || len(s.pending) == 0 {
		s.pending, s.discarding = s.pending[:0], false
		return nil
	}
	line := s.pending
	s.pending = nil
	return fn(line, false)
}
