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
	jsons, emls map[string]bool // by queue ID
	tmps        []string        // file names
}

// scan lists the queue folder. Only the files it lists are recovered:
// messages committed after it (while a background load runs) are the
// running relay's own.
func (q *Queue) scan() (*found, error) {
	dirents, err := os.ReadDir(q.dir)
	if err != nil {
		return nil, fmt.Errorf("queue: reading %s: %w", q.dir, err)
	}
	f := &found{jsons: make(map[string]bool), emls: make(map[string]bool)}
	for _, de := range dirents {
		name := de.Name()
		if !de.Type().IsRegular() {
			continue
		}
		switch id, ext, _ := strings.Cut(name, "."); {
		case !ValidID(id):
			q.log.Warn(events.QueueUnknownFile, events.FileKey, name)
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
	// A .json.tmp is a commit or a state change that did not reach its
	// rename: never acknowledged (or superseded by the .json in place).
	for _, name := range f.tmps {
		if err := removeIfExists(q.path(name)); err != nil {
			return fmt.Errorf("queue: removing unfinished %s: %w", name, err)
		}
		changed = true
	}
	emls := f.emls
	all := q.loadAll(f.jsons, emls)
	if q.closing.Load() {
		// Some envelopes were not read: their .eml files must not be
		// taken for unfinished drafts below. Everything stays on disk
		// for the next Open.
		return errLoadStopped
	}
	loaded, finished, damaged := 0, 0, 0
	for _, l := range all {
		id, rec, reason := l.id, l.rec, l.reason
		switch {
		case reason != "":
			q.quarantine(id, emls[id], reason)
			damaged++
			changed = true
		case !rec.hasPending():
			// Every recipient final but the files not yet removed:
			// finish the removal.
			if err := q.removeFilesNoSync(id); err != nil {
				return err
			}
			finished++
			changed = true
		default:
			q.add(rec)
			loaded++
		}
		delete(emls, id)
	}
	// A .eml without .json: a draft or a commit that did not reach its
	// commit point, or the tail of a removal. Never acknowledged.
	for id := range emls {
		if err := removeIfExists(q.path(id + ".eml")); err != nil {
			return fmt.Errorf("queue: removing unfinished %s.eml: %w", id, err)
		}
		changed = true
	}
	if changed {
		if err := q.syncDir(); err != nil {
			return fmt.Errorf("queue: syncing %s: %w", q.dir, err)
		}
	}
	q.log.Info(events.QueueLoaded, events.DirKey, q.dir, events.MessagesKey, loaded,
		"removed_unfinished", len(f.tmps)+len(emls), "removed_finished", finished, "damaged", damaged)
	return nil
}

// loaded is the outcome of load for one message.
type loaded struct {
	id     string
	rec    *record
	reason string
}

// loadAll loads the messages with a .json in parallel: a restart with a
// large queue waiting is mostly file opens and reads, which several
// goroutines overlap.
func (q *Queue) loadAll(jsons, emls map[string]bool) []loaded {
	out := make([]loaded, 0, len(jsons))
	for id := range jsons {
		out = append(out, loaded{id: id})
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
				out[i].rec, out[i].reason, buf = q.load(out[i].id, emls[out[i].id], buf)
			}
		})
	}
	wg.Wait()
	return out
}

// load reads and checks one message, reading its envelope into buf (and
// returning buf, grown if it had to be). A non-empty reason says why it
// cannot be loaded. With a large queue this runs 100,000 times at a
// restart, so it makes few system calls: open, read until the end,
// close, then a stat of the .eml.
func (q *Queue) load(id string, haveEML bool, buf []byte) (*record, string, []byte) {
	data, err := readRecord(q.path(id+".json"), buf[:0])
	if cap(data) <= maxRecordSize {
		buf = data[:0]
	}
	switch {
	case errors.Is(err, errRecordTooLarge):
		return nil, "envelope larger than " + fmt.Sprint(maxRecordSize) + " bytes", buf
	case err != nil:
		return nil, "cannot read envelope: " + err.Error(), buf
	}
	rec, err := decodeRecord(data)
	if err != nil {
		return nil, err.Error(), buf
	}
	if rec.ID != id {
		return nil, fmt.Sprintf("envelope names queue ID %s", rec.ID), buf
	}
	if !haveEML {
		return nil, "message file " + id + ".eml is missing", buf
	}
	fi, err := os.Stat(q.path(id + ".eml"))
	if err != nil {
		return nil, "cannot stat message file: " + err.Error(), buf
	}
	if fi.Size() != rec.Size {
		return nil, fmt.Sprintf("message file has %d bytes, envelope says %d", fi.Size(), rec.Size), buf
	}
	return rec, "", buf
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
func (q *Queue) quarantine(id string, haveEML bool, reason string) {
	dir := q.path(damagedDir)
	err := os.MkdirAll(dir, 0o700)
	// The .eml first: a .json left behind is caught again at the next
	// Open, a .eml left behind alone would be taken for an unfinished
	// draft and removed.
	var names []string
	if haveEML {
		names = append(names, id+".eml")
	}
	names = append(names, id+".json")
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

// removeFilesNoSync is removeFiles for recovery, which syncs the
// directory once at the end.
func (q *Queue) removeFilesNoSync(id string) error {
	for _, ext := range []string{".json", ".eml"} {
		if err := removeIfExists(q.path(id + ext)); err != nil {
			return fmt.Errorf("queue: removing finished message %s: %w", id, err)
		}
	}
	return nil
}
