package queue

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// draftBuffer is the write buffer of a draft: large, so that a typical
// message reaches the file in a few write(2) calls.
const draftBuffer = 128 << 10

type draftState int

const (
	drafting draftState = iota
	committed
	aborted
)

// Draft is a message being received. Write streams its bytes to
// <qid>.msg; Commit appends the trailer that commits it and makes it
// durable and queued; Abort throws it away.
// A Draft is used by one goroutine.
type Draft struct {
	q     *Queue
	id    string
	f     *os.File
	w     *bufio.Writer
	size  int64
	err   error // first write error, returned from then on
	state draftState
	// spare: the file came from the pool of spares, its name already
	// durable; Commit needs no directory fsync.
	spare bool
}

// NewDraft takes a spare message file (see Options.Spares), or picks a
// fresh queue ID and creates its .msg file when none is ready.
func (q *Queue) NewDraft() (*Draft, error) {
	if err := q.begin(); err != nil {
		return nil, err
	}
	defer q.end()
	if q.spares != nil {
		if s, ok := q.spares.take(); ok {
			d := &Draft{q: q, id: s.id, f: s.f, spare: true}
			d.w = q.writers.Get().(*bufio.Writer)
			d.w.Reset(draftFile{d})
			return d, nil
		}
	}
	for range 3 {
		id, err := newID(q.now())
		if err != nil {
			return nil, fmt.Errorf("queue: picking a queue ID: %w", err)
		}
		f, err := openFile(q.path(id+".msg"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, storageError("creating message file", err)
		}
		d := &Draft{q: q, id: id, f: f}
		d.w = q.writers.Get().(*bufio.Writer)
		d.w.Reset(draftFile{d})
		return d, nil
	}
	return nil, errors.New("queue: could not pick an unused queue ID")
}

// ID is the draft's queue ID, the QID of the 250 reply and of the logs.
func (d *Draft) ID() string { return d.id }

// Write appends message bytes. An error (wrapping ErrNoSpace when the disk
// is full) is sticky: the draft can then only be aborted.
func (d *Draft) Write(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if d.state != drafting {
		return 0, errors.New("queue: write to a draft already committed or aborted")
	}
	n, err := d.w.Write(p)
	d.size += int64(n)
	if err != nil {
		d.err = storageError("writing message", err)
		return n, d.err
	}
	return n, nil
}

// Commit makes the draft a queued message with envelope env. When it
// returns nil the message and its envelope are on disk and fsync'd (file
// and directory), and only then may the relay acknowledge it. On error the
// draft's files are already removed (Abort is still safe to call) and the
// error wraps ErrNoSpace if the disk or quota was full.
func (d *Draft) Commit(env Envelope) error { return d.CommitThen(env, nil) }

// CommitThen is Commit, calling durable (when not nil) after the message
// is on disk and before it is handed to the delivery workers.
func (d *Draft) CommitThen(env Envelope, durable func()) (err error) {
	if d.state != drafting {
		return errors.New("queue: commit of a draft already committed or aborted")
	}
	if d.err != nil {
		d.Abort()
		return d.err
	}
	q := d.q
	if err := q.begin(); err != nil {
		d.Abort()
		return err
	}
	defer q.end()
	defer func() {
		if err != nil {
			d.Abort()
		}
	}()
	rec, err := newRecord(d.id, env, d.size, q.now())
	if err != nil {
		return err
	}
	rec.SingleFile = true
	// The trailer goes through the draft's buffer, encoded in its free
	// space when it fits: a small message and its trailer reach the
	// file in one write(2).
	trailer, err := appendTrailer(d.w.AvailableBuffer(), rec)
	if err != nil {
		return err
	}
	if _, err := d.w.Write(trailer); err != nil {
		return storageError("writing message", err)
	}
	if err := d.w.Flush(); err != nil {
		return storageError("writing message", err)
	}
	err = q.syncFile(d.f)
	f := d.f
	d.f = nil
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return storageError("syncing message", err)
	}
	// The commit point: the file with its trailer is fsync'd; the
	// directory fsync (shared with the sessions committing at the same
	// time) makes its name durable, created when the draft began. A
	// spare's name was made durable before the pool handed it out.
	if !d.spare {
		if err := q.syncer.sync(); err != nil {
			return storageError("syncing queue directory", err)
		}
	}
	d.state = committed
	d.release()
	if durable != nil {
		durable()
	}
	q.add(rec, false)
	return nil
}

// release hands the draft's buffer back for another draft.
func (d *Draft) release() {
	if d.w != nil {
		d.w.Reset(nil)
		d.q.writers.Put(d.w)
		d.w = nil
	}
}

// Abort discards the draft and its files. It does nothing after a
// successful Commit, so `defer d.Abort()` is a fine pattern.
func (d *Draft) Abort() {
	if d.state != drafting {
		return
	}
	d.state = aborted
	d.release()
	if d.f != nil {
		d.f.Close()
		d.f = nil
	}
	// A draft has no other file: .json files are written only for
	// the state changes of committed messages.
	os.Remove(d.q.path(d.id + ".msg"))
}

// draftFile is the draft's file as the bufio.Writer sees it, with the
// tests' fault injection.
type draftFile struct{ d *Draft }

func (w draftFile) Write(p []byte) (int, error) {
	if err := w.d.q.inject("write", w.d.f.Name()); err != nil {
		return 0, err
	}
	return w.d.f.Write(p)
}
