package queue

import (
	"dkimrelay/events"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// damagedDir is the subfolder where Open moves messages it cannot load,
// for a person to look at.
const damagedDir = "damaged"

// found is what scan saw in the queue folder at Open.
type found struct {
	jsons, emls, msgs map[string]bool // by queue ID
	tmps              []string        // file names
}

// scan lists the queue folder. Only the files it lists are recovered:
// messages committed after it (while a background load runs) are the
// running relay's own.
func (q *Queue) scan() (*found, error) {
	dirents, err := os.ReadDir(q.dir)
	if err != nil {
		return nil, fmt.Errorf("queue: reading %s: %w", q.dir, err)
	}
	f := &found{jsons: make(map[string]bool), emls: make(map[string]bool), msgs: make(map[string]bool)}
	for _, de := range dirents {
		name := de.Name()
		if !de.Type().IsRegular() {
			continue
		}
		switch id, ext, _ := strings.Cut(name, "."); {
		case !ValidID(id):
			q.log.Warn(events.QueueUnknownFile, events.FileKey, name)
		case ext == "msg":
			f.msgs[id] = true
		case ext == "json":
			f.jsons[id] = true
		case ext == "eml":
			f.emls[id] = true
		case ext == "json.tmp":
			f.tmps = append(f.tmps, name)
		default:
			q.log.Warn(events.QueueUnknownFile, events.FileKey, name)
		}
	}
	return f, nil
}

// errLoadStopped: Close came during a background load.
var errLoadStopped = errors.New("queue: closed while loading")

// recover loads what a previous run left in the queue folder (as scan
// found it). Everything a crash can leave half-done is cleaned up here; see
// the package comment.
func (q *Queue) recover(f *found) error {
	changed := false
	// A .json.tmp is a state change (or, written by an earlier version,
	// a commit) that did not reach its rename: superseded by the .json
	// in place, or never acknowledged.
	for _, name := range f.tmps {
		if err := removeIfExists(q.path(name)); err != nil {
			return fmt.Errorf("queue: removing unfinished %s: %w", name, err)
		}
		changed = true
	}
	all := q.loadAll(f)
	if q.closing.Load() {
		// Some messages were not read: their files must not be taken
		// for unfinished drafts below. Everything stays on disk for
		// the next Open.
		return errLoadStopped
	}
	loaded, finished, damaged, unfinished := 0, 0, 0, len(f.tmps)
	for _, l := range all {
		id, rec := l.id, l.rec
		switch {
		case l.unfinished:
			// A .msg without a valid trailer: a draft, or a commit
			// whose fsync never returned. Never acknowledged.
			if err := removeIfExists(q.path(id + ".msg")); err != nil {
				return fmt.Errorf("queue: removing unfinished %s.msg: %w", id, err)
			}
			unfinished++
			changed = true
		case l.removed:
			// A single-file message's .json without its .msg: the
			// tail of a removal.
			if err := removeIfExists(q.path(id + ".json")); err != nil {
				return fmt.Errorf("queue: removing finished message %s: %w", id, err)
			}
			finished++
			changed = true
		case l.reason != "":
			q.quarantine(id, f, l.reason)
			damaged++
			changed = true
		case !rec.hasPending():
			// Every recipient final but the files not yet removed:
			// finish the removal.
			if err := q.unlinkFiles(&entry{rec: rec, hasJSON: f.jsons[id]}); err != nil {
				return fmt.Errorf("queue: removing finished message %s: %w", id, err)
			}
			finished++
			changed = true
		default:
			q.add(rec, f.jsons[id])
			loaded++
		}
		delete(f.emls, id)
	}
	// A .eml without .json, written by an earlier version: a draft or a
	// commit that did not reach its commit point, or the tail of a
	// removal. Never acknowledged.
	for id := range f.emls {
		if err := removeIfExists(q.path(id + ".eml")); err != nil {
			return fmt.Errorf("queue: removing unfinished %s.eml: %w", id, err)
		}
		unfinished++
		changed = true
	}
	if changed {
		if err := q.syncDir(); err != nil {
			return fmt.Errorf("queue: syncing %s: %w", q.dir, err)
		}
	}
	q.log.Info(events.QueueLoaded, events.DirKey, q.dir, events.MessagesKey, loaded,
		"removed_unfinished", unfinished, "removed_finished", finished, "damaged", damaged)
	return nil
}

// loaded is the outcome of load for one message.
type loaded struct {
	id  string
	rec *record
	// reason, when not empty, says why the message cannot be loaded.
	reason string
	// unfinished: a .msg that was never committed.
	unfinished bool
	// removed: a .json whose message file a removal took already.
	removed bool
}

// loadAll loads the messages found, in parallel: a restart with a large
// queue waiting is mostly file opens and reads, which several goroutines
// overlap. A message with a .json is loaded from it (its latest state);
// one with a .msg alone from the .msg's trailer.
func (q *Queue) loadAll(f *found) []loaded {
	out := make([]loaded, 0, len(f.jsons)+len(f.msgs))
	for id := range f.jsons {
		out = append(out, loaded{id: id})
	}
	for id := range f.msgs {
		if !f.jsons[id] {
			out = append(out, loaded{id: id})
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 2 * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			buf := make([]byte, 0, 16<<10) // this goroutine's read buffer
			for {
				i := int(next.Add(1)) - 1
				if i >= len(out) || q.closing.Load() {
					return
				}
				l := &out[i]
				if f.jsons[l.id] {
					buf = q.loadJSON(l, f, buf)
				} else {
					buf = q.loadTrailer(l, buf)
				}
			}
		})
	}
	wg.Wait()
	return out
}

// loadJSON reads and checks one message's .json, reading it into buf (and
// returning buf, grown if it had to be). With a large queue this runs
// 100,000 times at a restart, so it makes few system calls: open, read
// until the end, close, then a stat of the message file.
func (q *Queue) loadJSON(l *loaded, f *found, buf []byte) []byte {
	id := l.id
	data, err := readRecord(q.path(id+".json"), buf[:0])
	if cap(data) <= maxRecordSize {
		buf = data[:0]
	}
	switch {
	case errors.Is(err, errRecordTooLarge):
		l.reason = "envelope larger than " + fmt.Sprint(maxRecordSize) + " bytes"
		return buf
	case err != nil:
		l.reason = "cannot read envelope: " + err.Error()
		return buf
	}
	rec, err := decodeRecord(data)
	if err != nil {
		l.reason = err.Error()
		return buf
	}
	if rec.ID != id {
		l.reason = fmt.Sprintf("envelope names queue ID %s", rec.ID)
		return buf
	}
	have, least := f.emls[id], rec.Size
	if rec.SingleFile {
		have, least = f.msgs[id], rec.Size+int64(footerSize)
		if !have {
			l.removed = true
			return buf
		}
	}
	if !have {
		l.reason = "message file " + rec.bodyName() + " is missing"
		return buf
	}
	fi, err := os.Stat(q.path(rec.bodyName()))
	switch {
	case err != nil:
		l.reason = "cannot stat message file: " + err.Error()
	case rec.SingleFile && fi.Size() < least:
		l.reason = fmt.Sprintf("message file has %d bytes, envelope says %d and a trailer", fi.Size(), rec.Size)
	case !rec.SingleFile && fi.Size() != rec.Size:
		l.reason = fmt.Sprintf("message file has %d bytes, envelope says %d", fi.Size(), rec.Size)
	default:
		l.rec = rec
	}
	return buf
}

// loadTrailer reads and checks the trailer of a .msg that has no .json,
// reading it into buf (and returning buf, grown if it had to be): open,
// fstat, one pread for the footer and (but for a huge envelope) the
// record, close.
func (q *Queue) loadTrailer(l *loaded, buf []byte) []byte {
	data, size, buf, err := readTrailer(q.path(l.id+".msg"), buf)
	switch {
	case errors.Is(err, errNoTrailer):
		l.unfinished = true
		return buf
	case err != nil:
		l.reason = "cannot read message file: " + err.Error()
		return buf
	}
	// The checksum matched: the record is what Commit wrote. One that
	// does not hold up is damage, kept aside, not a draft to remove.
	rec, err := decodeRecord(data)
	switch {
	case err != nil:
		l.reason = err.Error()
	case rec.ID != l.id:
		l.reason = fmt.Sprintf("trailer names queue ID %s", rec.ID)
	case !rec.SingleFile:
		l.reason = "trailer of a message file does not say single_file"
	case trailerLen(rec, len(data)) != size:
		l.reason = fmt.Sprintf("message file has %d bytes, its trailer says %d", size, trailerLen(rec, len(data)))
	default:
		l.rec = rec
	}
	return buf
}

var errRecordTooLarge = errors.New("envelope too large")

// readRecord appends the file at path to buf, up to maxRecordSize bytes.
func readRecord(path string, buf []byte) ([]byte, error) {
	f, err := openFile(path, os.O_RDONLY, 0)
	if err != nil {
		return buf, err
	}
	defer f.Close()
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > maxRecordSize {
			return buf, errRecordTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// quarantine moves a message that cannot be loaded to damaged/, so that
// the rest of the queue works and nothing is destroyed.
func (q *Queue) quarantine(id string, f *found, reason string) {
	dir := q.path(damagedDir)
	err := os.MkdirAll(dir, 0o700)
	// The message file first: a .json left behind is caught again at
	// the next Open, a message file left behind alone would be taken
	// for an unfinished draft and removed.
	var names []string
	if f.msgs[id] {
		names = append(names, id+".msg")
	}
	if f.emls[id] {
		names = append(names, id+".eml")
	}
	if f.jsons[id] {
		names = append(names, id+".json")
	}
	for _, n := range names {
		if err == nil {
			err = os.Rename(q.path(n), filepath.Join(dir, n))
		}
	}
	if err != nil {
		events.QueueDamage{QID: id, Reason: reason, Err: err}.Log(q.log)
		return
	}
	events.QueueDamage{QID: id, Reason: reason, MovedTo: dir}.Log(q.log)
}
