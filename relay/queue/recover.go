package queue

import (
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

// recover loads what a previous run left in the queue folder. Everything a
// crash can leave half-done is cleaned up here; see the package comment.
func (q *Queue) recover() error {
	dirents, err := os.ReadDir(q.dir)
	if err != nil {
		return fmt.Errorf("queue: reading %s: %w", q.dir, err)
	}
	jsons := make(map[string]bool)
	emls := make(map[string]bool)
	var tmps []string
	for _, de := range dirents {
		name := de.Name()
		if !de.Type().IsRegular() {
			continue
		}
		switch id, ext, _ := strings.Cut(name, "."); {
		case !ValidID(id):
			q.log.Warn("queue_unknown_file", "file", name)
		case ext == "json":
			jsons[id] = true
		case ext == "eml":
			emls[id] = true
		case ext == "json.tmp":
			tmps = append(tmps, name)
		default:
			q.log.Warn("queue_unknown_file", "file", name)
		}
	}

	changed := false
	// A .json.tmp is a commit or a state change that did not reach its
	// rename: never acknowledged (or superseded by the .json in place).
	for _, name := range tmps {
		if err := removeIfExists(q.path(name)); err != nil {
			return fmt.Errorf("queue: removing unfinished %s: %w", name, err)
		}
		changed = true
	}
	loaded, finished, damaged := 0, 0, 0
	for _, l := range q.loadAll(jsons, emls) {
		id, rec, reason := l.id, l.rec, l.reason
		switch {
		case reason != "":
			q.quarantine(id, emls[id], reason)
			damaged++
			changed = true
		case !rec.hasQueued():
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
	q.log.Info("queue_loaded", "dir", q.dir, "messages", loaded,
		"removed_unfinished", len(tmps)+len(emls), "removed_finished", finished, "damaged", damaged)
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
// goroutines overlap (issue 7: 100,000 messages ready in under 5 s).
func (q *Queue) loadAll(jsons, emls map[string]bool) []loaded {
	out := make([]loaded, 0, len(jsons))
	for id := range jsons {
		out = append(out, loaded{id: id})
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 2 * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(out) {
					return
				}
				out[i].rec, out[i].reason = q.load(out[i].id, emls[out[i].id])
			}
		})
	}
	wg.Wait()
	return out
}

// load reads and checks one message. A non-empty reason says why it cannot
// be loaded.
func (q *Queue) load(id string, haveEML bool) (*record, string) {
	f, err := os.Open(q.path(id + ".json"))
	if err != nil {
		return nil, "cannot read envelope: " + err.Error()
	}
	data, err := io.ReadAll(io.LimitReader(f, maxRecordSize+1))
	f.Close()
	switch {
	case err != nil:
		return nil, "cannot read envelope: " + err.Error()
	case len(data) > maxRecordSize:
		return nil, "envelope larger than " + fmt.Sprint(maxRecordSize) + " bytes"
	}
	rec, err := decodeRecord(data)
	if err != nil {
		return nil, err.Error()
	}
	if rec.ID != id {
		return nil, fmt.Sprintf("envelope names queue ID %s", rec.ID)
	}
	if !haveEML {
		return nil, "message file " + id + ".eml is missing"
	}
	fi, err := os.Stat(q.path(id + ".eml"))
	if err != nil {
		return nil, "cannot stat message file: " + err.Error()
	}
	if fi.Size() != rec.Size {
		return nil, fmt.Sprintf("message file has %d bytes, envelope says %d", fi.Size(), rec.Size)
	}
	return rec, ""
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
		q.log.Error("queue_damaged", "qid", id, "reason", reason, "error", "could not move it aside: "+err.Error())
		return
	}
	q.log.Error("queue_damaged", "qid", id, "reason", reason, "moved_to", dir)
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
