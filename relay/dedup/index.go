package dedup

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"dkimrelay/internal/atomicfile"
)

// Index remembers the messages accepted within the window: their Key, their
// queue ID and when. It lives in memory and in a file that each accepted
// message appends one line to, so that it survives a restart; the file is
// rewritten with the live entries alone when it opens and when it has
// grown well past them. It is safe for concurrent use.
type Index struct {
	window time.Duration
	now    func() time.Time
	path   string

	mu      sync.Mutex
	f       *os.File
	lines   int // lines in the file
	entries map[Key]entry
	claimed map[Key]chan struct{} // keys being queued right now; closed when done
	swept   time.Time
}

type entry struct {
	qid string
	at  time.Time
}

// Open reads the index at path (a missing file is an empty index) and
// keeps the entries younger than window.
func Open(path string, window time.Duration) (*Index, error) {
	x := &Index{window: window, now: time.Now, path: path,
		entries: make(map[Key]entry), claimed: make(map[Key]chan struct{})}
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("reading the duplicate index: %w", err)
	}
	now := x.now()
	for line := range bytes.Lines(data) {
		k, e, ok := parseLine(line)
		if ok && now.Sub(e.at) < window {
			x.entries[k] = e
		}
	}
	if err := x.rewrite(); err != nil {
		return nil, err
	}
	return x, nil
}

// parseLine reads "UNIXNANO HEXKEY QID\n"; a torn last line (a crash in
// the middle of an append) does not parse and is dropped.
func parseLine(line []byte) (Key, entry, bool) {
	var k Key
	fields := bytes.Fields(line)
	if len(fields) != 3 || !bytes.HasSuffix(line, []byte("\n")) {
		return k, entry{}, false
	}
	ns, err := strconv.ParseInt(string(fields[0]), 10, 64)
	if err != nil {
		return k, entry{}, false
	}
	if n, err := hex.Decode(k[:], fields[1]); err != nil || n != len(k) {
		return k, entry{}, false
	}
	return k, entry{qid: string(fields[2]), at: time.Unix(0, ns)}, true
}

func formatLine(k Key, e entry) []byte {
	return fmt.Appendf(nil, "%d %x %s\n", e.at.UnixNano(), k[:], e.qid)
}

// rewrite replaces the file with the live entries and reopens it for
// appending. x.mu is held, or x is not shared yet.
func (x *Index) rewrite() error {
	var b bytes.Buffer
	for k, e := range x.entries {
		b.Write(formatLine(k, e))
	}
	if err := atomicfile.Write(x.path, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("writing the duplicate index: %w", err)
	}
	if x.f != nil {
		x.f.Close()
	}
	f, err := os.OpenFile(x.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("opening the duplicate index: %w", err)
	}
	x.f, x.lines = f, len(x.entries)
	return nil
}

// Close closes the index's file.
func (x *Index) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.f.Close()
}

// fileClaim is an Index's Claim.
type fileClaim struct {
	x    *Index
	key  Key
	done chan struct{}
}

// Lookup returns the queue ID of the message with key k accepted within
// the window, or, when there is none, a Claim the caller ends with Done
// once it has queued the message (or failed to). While a Claim on k is
// held, Lookup of k waits for it, so that two copies submitted at once
// are not both queued.
func (x *Index) Lookup(ctx context.Context, k Key) (qid string, c Claim, err error) {
	x.mu.Lock()
	for {
		if e, ok := x.entries[k]; ok && x.now().Sub(e.at) < x.window {
			x.mu.Unlock()
			return e.qid, nil, nil
		}
		wait, held := x.claimed[k]
		if !held {
			break
		}
		x.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return "", nil, ctx.Err()
		}
		x.mu.Lock()
	}
	fc := &fileClaim{x: x, key: k, done: make(chan struct{})}
	x.claimed[k] = fc.done
	x.mu.Unlock()
	return "", fc, nil
}

// Done records that the claimed message was queued as qid, or, with qid
// "", that it was not queued. The record is appended to the file but not
// fsync'd: the message itself is durable already, and an index entry lost
// with the machine's power can at worst let a retry through.
func (c *fileClaim) Done(qid string) error {
	x := c.x
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.claimed, c.key)
	close(c.done)
	if qid == "" {
		return nil
	}
	now := x.now()
	e := entry{qid: qid, at: now}
	x.entries[c.key] = e
	x.sweep(now)
	if x.lines > 2*len(x.entries)+1024 {
		return x.rewrite()
	}
	if _, err := x.f.Write(formatLine(c.key, e)); err != nil {
		return fmt.Errorf("appending to the duplicate index: %w", err)
	}
	x.lines++
	return nil
}

// sweep drops the expired entries, at most once per tenth of the window,
// so that memory follows the rate of mail times the window.
func (x *Index) sweep(now time.Time) {
	if now.Sub(x.swept) < x.window/10 {
		return
	}
	x.swept = now
	for k, e := range x.entries {
		if now.Sub(e.at) >= x.window {
			delete(x.entries, k)
		}
	}
}

// Len returns the number of entries held, expired ones not yet swept
// included.
func (x *Index) Len() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.entries)
}
