package logview

import (
	"context"
	"errors"
	"io"
	"os"
	"time"
)

// Follow reads the rotated files and the current one like Read, then
// keeps reading the current file as the relay appends to it until ctx
// ends. It survives rotation: when Path becomes a new file (logrotate
// renamed the old one and the relay reopened its log on SIGUSR1), it
// reads what is left of the old file and goes on with the new one from
// its start; when the file shrinks (copytruncate), it starts over at the
// beginning. Follow returns nil when ctx ends.
func (r *Reader) Follow(ctx context.Context) error {
	files, err := Files(r.Path)
	if err != nil {
		return err
	}
	for _, p := range files {
		if p == r.Path {
			break
		}
		if r.Filter.Since.IsZero() || modifiedSince(p, r.Filter.Since) {
			if err := r.readFile(ctx, p); err != nil {
				return quiet(ctx, err)
			}
		}
	}
	poll := r.Poll
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	t := &tail{r: r}
	defer t.close()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		if err := t.step(ctx); err != nil {
			return quiet(ctx, err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func quiet(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func modifiedSince(path string, t time.Time) bool {
	st, err := os.Stat(path)
	return err != nil || !st.ModTime().Before(t)
}

// tail follows the file at r.Path.
type tail struct {
	r   *Reader
	f   *os.File // nil while Path does not exist
	off int64
	s   splitter
}

func (t *tail) close() {
	if t.f != nil {
		t.f.Close()
	}
}

// step reads what was appended, then looks whether Path was rotated or
// truncated.
func (t *tail) step(ctx context.Context) error {
	if t.f == nil {
		f, err := os.Open(t.r.Path)
		if errors.Is(err, os.ErrNotExist) {
			return nil // between logrotate's rename and the relay's reopen
		}
		if err != nil {
			return err
		}
		t.f, t.off, t.s = f, 0, splitter{}
	}
	if err := t.drain(ctx); err != nil {
		return err
	}
	cur, err := t.f.Stat()
	if err != nil {
		return err
	}
	st, err := os.Stat(t.r.Path)
	switch {
	case errors.Is(err, os.ErrNotExist), err == nil && !os.SameFile(st, cur):
		// Rotated. Read what the relay wrote to the old file after the
		// last look and before it reopened, then switch.
		if err := t.drain(ctx); err != nil {
			return err
		}
		if err := t.s.flush(t.r.line); err != nil {
			return err
		}
		t.f.Close()
		t.f = nil
		return t.step(ctx)
	case err != nil:
		return err
	case st.Size() < t.off:
		// Truncated in place (copytruncate): start over.
		if _, err := t.f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		t.off, t.s = 0, splitter{}
		return t.drain(ctx)
	}
	return nil
}

// drain reads the file from the current offset to its end.
func (t *tail) drain(ctx context.Context) error {
	return t.s.read(ctx, countingReader{t.f, &t.off}, t.r.line)
}

type countingReader struct {
	r io.Reader
	n *int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}
