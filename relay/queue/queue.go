package queue

import (
	"bufio"
	"context"
	"dkimrelay/config"
	"dkimrelay/events"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Queue. Dir and Delivery are required.
type Options struct {
	Dir string // <data_dir>/queue, created 0700 if missing
	// Delivery is the [delivery] section as config loaded it: retry_min
	// (the first retry delay), retry_max (the cap of the doubling delay)
	// and max_lifetime (then transient failures expire) schedule the
	// attempts.
	Delivery config.Delivery
	Logger   *slog.Logger     // nil: discard
	Now      func() time.Time // nil: time.Now
	// LoadInBackground makes Open return once the folder is read and
	// locked, and load the envelopes it found in the background (see
	// Queue.WaitLoaded): a relay with 100,000 messages waiting accepts
	// mail at once instead of after loading them all. New messages can
	// be committed meanwhile; the loaded ones are scheduled as they come.
	LoadInBackground bool
	// Spares is how many empty message files the queue keeps created
	// ahead of need, their names made durable by one directory fsync a
	// batch (the relay uses DefaultSpares): a message committed into one
	// costs one file fsync and no directory fsync. 0: each draft
	// creates its file and its commit fsyncs the folder.
	Spares int
}

// Queue is the durable mail queue. All its methods are safe for concurrent
// use.
type Queue struct {
	dir         string
	minRetry    time.Duration
	maxRetry    time.Duration
	maxLifetime time.Duration
	log         *slog.Logger
	now         func() time.Time

	dirFile *os.File // held open: fsync target and flock holder
	syncer  *dirSyncer
	spares  *spares // nil without Options.Spares

	loaded  chan struct{} // closed once the messages Open found are loaded
	closing atomic.Bool   // Close has begun: a background load stops
	// writers recycles the drafts' 128 KiB buffers: allocating and
	// clearing one for every message would be most of what a message
	// costs the garbage collector.
	writers sync.Pool

	// fault, when set (by tests only), is called before each write
	// ("write"), file fsync ("sync") and directory fsync ("dirsync") with
	// the path concerned; an error it returns is taken as the
	// operation's.
	fault atomic.Pointer[func(op, path string) error]

	mu     sync.Mutex
	msgs   map[string]*entry // by ID; includes deleted messages still in flight
	sched  schedule          // messages with a pending recipient, not in flight
	bulk   schedule          // the same, of the bulk class: handed out when no other is due
	wake   chan struct{}     // holds one token when the schedule changed: wakes one waiting Next
	done   chan struct{}     // closed by Close: wakes every waiting Next
	closed bool
	ops    int // storage operations in progress; Close waits for them
	idle   sync.Cond
}

// entry is a message in the queue.
type entry struct {
	rec      *record
	inFlight bool      // handed out by Next, not yet recorded
	deleted  bool      // removed by Delete while in flight
	dueAt    time.Time // earliest next attempt, while scheduled
	index    int       // position in sched, -1 when not scheduled

	// fileMu orders the rewrites and the removal of this message's files
	// (Record against Delete).
	fileMu sync.Mutex
	// hasJSON: a <qid>.json may exist beside the message file (always
	// so for a message written by an earlier version). Under fileMu.
	hasJSON bool
}

// Open opens (creating if needed) the queue in opts.Dir and recovers what
// a previous run left: see the package documentation. Only one process
// may have a queue folder open at a time.
func Open(opts Options) (*Queue, error) {
	if opts.Dir == "" {
		return nil, errors.New("queue: no directory given")
	}
	if d := opts.Delivery; d.RetryMin <= 0 || d.RetryMax < d.RetryMin || d.MaxLifetime <= 0 {
		return nil, errors.New("queue: no schedule given: pass the loaded config's [delivery] section (retry_min, retry_max, max_lifetime)")
	}
	q := &Queue{
		dir:         opts.Dir,
		minRetry:    opts.Delivery.RetryMin,
		maxRetry:    opts.Delivery.RetryMax,
		maxLifetime: opts.Delivery.MaxLifetime,
		log:         opts.Logger,
		now:         opts.Now,
		msgs:        make(map[string]*entry),
		wake:        make(chan struct{}, 1),
		done:        make(chan struct{}),
	}
	q.idle.L = &q.mu
	q.writers.New = func() any { return bufio.NewWriterSize(nil, draftBuffer) }
	if q.log == nil {
		q.log = slog.New(slog.DiscardHandler)
	}
	if q.now == nil {
		q.now = time.Now
	}
	if err := os.MkdirAll(q.dir, 0o700); err != nil {
		return nil, fmt.Errorf("queue: creating %s: %w", q.dir, err)
	}
	d, err := os.Open(q.dir)
	if err != nil {
		return nil, fmt.Errorf("queue: opening %s: %w", q.dir, err)
	}
	if err := lockDir(d); err != nil {
		d.Close()
		return nil, fmt.Errorf("queue: %s is in use by another process (is the relay already running?): %w", q.dir, err)
	}
	q.dirFile = d
	q.syncer = newDirSyncer(q.syncDir)
	q.loaded = make(chan struct{})
	found, err := q.scan()
	if err != nil {
		d.Close()
		return nil, err
	}
	// After the scan: the spares are the running relay's own files,
	// never taken for a previous run's unfinished drafts.
	if opts.Spares > 0 {
		q.spares = newSpares(q, opts.Spares)
	}
	if !opts.LoadInBackground {
		err := q.recover(found)
		close(q.loaded)
		if err != nil {
			if q.spares != nil {
				q.spares.close()
			}
			d.Close()
			return nil, err
		}
		return q, nil
	}
	q.ops++ // Close waits for the load to stop
	go func() {
		defer q.end()
		defer close(q.loaded)
		err := q.recover(found)
		if err != nil && !errors.Is(err, errLoadStopped) {
			// The messages not loaded stay on disk for the next start.
			q.log.Error(events.QueueLoadFailed, events.DirKey, q.dir, events.ErrorKey, err.Error())
		}
	}()
	return q, nil
}

// WaitLoaded returns once the messages Open found are loaded (at once
// unless Options.LoadInBackground), or with ctx's error.
func (q *Queue) WaitLoaded(ctx context.Context) error {
	// Loaded wins over a context that is done as well: select alone
	// would pick between them at random.
	select {
	case <-q.loaded:
		return nil
	default:
	}
	select {
	case <-q.loaded:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("queue: still loading the messages queued before the start: %w", ctx.Err())
	}
}

// Close stops the queue: Next returns ErrClosed, new drafts are refused,
// and Close waits for commits and state changes in progress to reach the
// disk. Messages in flight stay queued as they were on disk; a Record
// after Close returns ErrClosed and the attempt is repeated after the next
// Open.
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	q.closing.Store(true)
	close(q.done)
	q.mu.Unlock()
	if q.spares != nil {
		// New drafts are refused from now on: remove the spares.
		q.spares.close()
	}
	q.mu.Lock()
	for q.ops > 0 {
		q.idle.Wait()
	}
	q.mu.Unlock()
	return q.dirFile.Close()
}

// begin registers a storage operation; Close waits for it to end.
func (q *Queue) begin() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	q.ops++
	return nil
}

func (q *Queue) end() {
	q.mu.Lock()
	q.ops--
	if q.ops == 0 {
		q.idle.Broadcast()
	}
	q.mu.Unlock()
}

// notifyLocked wakes one Next waiting for the schedule to change (or the
// next caller, when none waits). Waking one rather than all keeps an idle
// pool of workers from stampeding at every queued message; the one woken
// passes the wake on while work remains (see Next).
func (q *Queue) notifyLocked() {
	select {
	case q.wake <- struct{}{}:
	default: // a wake is pending already
	}
}

func (q *Queue) path(name string) string { return filepath.Join(q.dir, name) }

func (q *Queue) inject(op, path string) error {
	fault := q.fault.Load()
	if fault == nil {
		return nil
	}
	return (*fault)(op, path)
}

func (q *Queue) syncDir() error {
	if err := q.inject("dirsync", q.dir); err != nil {
		return err
	}
	return q.dirFile.Sync()
}

func (q *Queue) syncFile(f *os.File) error {
	if err := q.inject("sync", f.Name()); err != nil {
		return err
	}
	return f.Sync()
}

// writeRecord atomically replaces <id>.json: write a temporary file, fsync
// it, rename it over the old one, fsync the directory (group-committed).
// A crash leaves either the old .json or the new one, never a mix.
func (q *Queue) writeRecord(id string, data []byte) error {
	f, err := q.stageRecord(id, data)
	if err != nil {
		return err
	}
	return q.publishRecord(id, f)
}

// stageRecord writes data to <id>.json.tmp, not yet fsync'd. The caller
// hands the file to publishRecord, which closes it.
func (q *Queue) stageRecord(id string, data []byte) (*os.File, error) {
	tmp := q.path(id + ".json.tmp")
	f, err := openFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, storageError("creating envelope", err)
	}
	err = q.inject("write", tmp)
	if err == nil {
		_, err = f.Write(data)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, storageError("writing envelope", err)
	}
	return f, nil
}

// publishRecord fsyncs and closes the staged <id>.json.tmp, renames it to
// <id>.json and fsyncs the directory (group-committed).
func (q *Queue) publishRecord(id string, f *os.File) error {
	tmp := f.Name()
	err := q.syncFile(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = renameFile(tmp, q.path(id+".json"))
	}
	if err != nil {
		os.Remove(tmp)
		return storageError("writing envelope", err)
	}
	if err := q.syncer.sync(); err != nil {
		return storageError("syncing queue directory", err)
	}
	return nil
}

// removeFiles removes a message's files and fsyncs the directory.
func (q *Queue) removeFiles(e *entry) error {
	if err := q.unlinkFiles(e); err != nil {
		return err
	}
	if err := q.syncer.sync(); err != nil {
		return storageError("syncing queue directory", err)
	}
	return nil
}

// removeDelivered removes a message every recipient of which was
// delivered, without waiting for a directory fsync: should a crash undo
// the removal, the message is delivered again, which at-least-once
// delivery allows (RFC 5321 section 6.1 forbids losing a message, not
// sending it twice), and the next state change's directory fsync makes it
// durable anyway. It saves a journal commit per delivered message.
func (q *Queue) removeDelivered(e *entry) error {
	return q.unlinkFiles(e)
}

// unlinkFiles removes a message's files, the one that commits it first.
// For a message of one file that is <qid>.msg: a <qid>.json left behind
// by a crash names single_file and has no message file, which Open takes
// for the tail of a removal. A message delivered at its first attempt has
// no .json and costs one unlink(2). For an earlier version's pair, the
// .json is the commit point: a .eml left behind is removed by Open.
func (q *Queue) unlinkFiles(e *entry) error {
	names := [2]string{e.rec.ID + ".msg", e.rec.ID + ".json"}
	if !e.rec.SingleFile {
		names = [2]string{e.rec.ID + ".json", e.rec.ID + ".eml"}
	}
	for i, name := range names {
		if e.rec.SingleFile && i == 1 && !e.hasJSON {
			break
		}
		if err := removeIfExists(q.path(name)); err != nil {
			return storageError("removing "+name, err)
		}
	}
	return nil
}
