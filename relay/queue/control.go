package queue

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// List returns a snapshot of every queued message, oldest first.
func (q *Queue) List() []*Message {
	var ms []*Message
	q.Walk(func(m *Message) error {
		ms = append(ms, m)
		return nil
	})
	return ms
}

// walkChunk is how many messages Walk copies per hold of the lock.
const walkChunk = 512

// Walk calls fn with a snapshot of every queued message, oldest first, and
// stops at fn's first error, which it returns. It copies the messages a
// few hundred at a time, so that listing a queue of 100,000 neither holds
// a copy of all of them nor the queue's lock for long; a message that
// leaves the queue during the walk may be left out.
func (q *Queue) Walk(fn func(*Message) error) error {
	type ref struct {
		received time.Time
		id       string
	}
	q.mu.Lock()
	refs := make([]ref, 0, len(q.msgs))
	for id, e := range q.msgs {
		if !e.deleted {
			refs = append(refs, ref{e.rec.Received, id})
		}
	}
	q.mu.Unlock()
	slices.SortFunc(refs, func(a, b ref) int {
		return cmp.Or(a.received.Compare(b.received), strings.Compare(a.id, b.id))
	})
	batch := make([]*Message, 0, walkChunk)
	for len(refs) > 0 {
		n := min(walkChunk, len(refs))
		batch = batch[:0]
		q.mu.Lock()
		for _, r := range refs[:n] {
			if e, ok := q.msgs[r.id]; ok && !e.deleted {
				batch = append(batch, e.rec.message())
			}
		}
		q.mu.Unlock()
		refs = refs[n:]
		for _, m := range batch {
			if err := fn(m); err != nil {
				return err
			}
		}
	}
	return nil
}

// Len is the number of queued messages, in flight or not.
func (q *Queue) Len() int {
	n, _ := q.Stats()
	return n
}

// Stats returns the number of queued messages and the arrival time of the
// oldest (zero when there is none), without copying the queue as List
// does: the metrics ask for it at every scrape.
func (q *Queue) Stats() (n int, oldest time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, e := range q.msgs {
		if e.deleted {
			continue
		}
		n++
		if r := e.rec.Received; oldest.IsZero() || r.Before(oldest) {
			oldest = r
		}
	}
	return n, oldest
}

// lookupLocked finds a live message by an ID that may come from outside.
func (q *Queue) lookupLocked(id string) (*entry, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("%w: %q is not a queue ID", ErrNotFound, id)
	}
	e, ok := q.msgs[id]
	if !ok || e.deleted {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return e, nil
}

// Get returns a snapshot of one message, or ErrNotFound.
func (q *Queue) Get(id string) (*Message, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, err := q.lookupLocked(id)
	if err != nil {
		return nil, err
	}
	return e.rec.message(), nil
}

// Retry makes the pending recipients of message id due now.
//
// The change is kept in memory only: the attempt it causes records its own
// result, and after a restart every message is due at its stored time
// anyway.
func (q *Queue) Retry(id string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, err := q.lookupLocked(id)
	if err != nil {
		return err
	}
	q.retryLocked(e)
	return nil
}

// RetryAll makes every pending recipient due now and returns the number of
// messages concerned. The files' queue never fails it.
func (q *Queue) RetryAll() (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, e := range q.msgs {
		if !e.deleted && q.retryLocked(e) {
			n++
		}
	}
	return n, nil
}

func (q *Queue) retryLocked(e *entry) bool {
	now := q.now()
	found := false
	for i := range e.rec.Rcpts {
		if r := &e.rec.Rcpts[i]; r.State.Pending() {
			r.NextAttempt = now
			found = true
		}
	}
	if found {
		q.rescheduleLocked(e)
	}
	return found
}

// Delete removes a message from the queue and from the disk at once,
// without a bounce. A message in flight is deleted too: its files go
// (an open reader keeps working), the attempt in progress cannot be
// recalled and may still deliver it, and its Record does nothing.
func (q *Queue) Delete(id string) error {
	if err := q.begin(); err != nil {
		return err
	}
	defer q.end()
	q.mu.Lock()
	e, err := q.lookupLocked(id)
	if err != nil {
		q.mu.Unlock()
		return err
	}
	e.deleted = true
	if !e.inFlight {
		delete(q.msgs, id)
	}
	q.rescheduleLocked(e)
	q.mu.Unlock()

	e.fileMu.Lock()
	defer e.fileMu.Unlock()
	return q.removeFiles(e)
}

// Open returns what goes on the wire for m after DATA: its DKIM-Signature
// fields, then the stored message.
func (q *Queue) Open(m *Message) (io.ReadCloser, error) {
	return q.openBody(m.ID, true)
}

// OpenRaw returns the stored message alone, without the signatures, for a
// bounce to quote: Record's bounce step runs while the message is still
// queued.
func (q *Queue) OpenRaw(id string) (io.ReadCloser, error) {
	return q.openBody(id, false)
}

// openBody opens the message bytes of message id: the first Size bytes of
// its file (a .msg goes on with its trailer), after its signatures when
// signed.
func (q *Queue) openBody(id string, signed bool) (io.ReadCloser, error) {
	q.mu.Lock()
	e, err := q.lookupLocked(id)
	var sigs string
	var name string
	var size int64
	if err == nil {
		if signed {
			sigs = strings.Join(e.rec.Signatures, "")
		}
		name, size = e.rec.bodyName(), e.rec.Size
	}
	q.mu.Unlock()
	if err != nil {
		return nil, err
	}
	f, err := openFile(q.path(name), os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("queue: opening message %s: %w", id, err)
	}
	r := &messageReader{body: io.LimitedReader{R: f, N: size}, f: f}
	r.sigs.Reset(sigs)
	return r, nil
}

// messageReader reads the signatures, then the message bytes.
type messageReader struct {
	sigs strings.Reader
	body io.LimitedReader
	f    *os.File
}

func (r *messageReader) Read(p []byte) (int, error) {
	if r.sigs.Len() > 0 {
		return r.sigs.Read(p)
	}
	return r.body.Read(p)
}

func (r *messageReader) Close() error { return r.f.Close() }
