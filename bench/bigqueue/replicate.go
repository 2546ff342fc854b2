package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"dkimrelay/relay/queue"
)

// crockford is the alphabet of queue IDs (relay/queue/id.go).
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// keptPrefix is how much of the original queue ID each copy keeps: its
// 12 leading digits (the millisecond timestamp, and with it the sort order
// and the leading digit ValidID checks); the last 8 hold a counter.
const keptPrefix = 12

// copyIDs returns n queue IDs for copies of the message orig: orig's first
// 12 digits, then 1, 2, 3... in 8 Crockford base32 digits, skipping the
// one that would be orig itself. Every ID is valid and they are distinct.
func copyIDs(orig string, n int) ([]string, error) {
	if !queue.ValidID(orig) {
		return nil, fmt.Errorf("%q is not a queue ID", orig)
	}
	const digits = 20 - keptPrefix
	if n >= 1<<(5*digits)-1 {
		return nil, fmt.Errorf("%d copies do not fit in %d base32 digits", n, digits)
	}
	ids := make([]string, 0, n)
	var b [20]byte
	copy(b[:], orig[:keptPrefix])
	for i := uint64(1); len(ids) < n; i++ {
		v := i
		for j := len(b) - 1; j >= keptPrefix; j-- {
			b[j] = crockford[v&31]
			v >>= 5
		}
		if id := string(b[:]); id != orig {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// copyFiles returns the files a copy of the queued message orig is made
// of, by name suffix, for a new ID: for the one-file layout (<QID>.msg) the
// message with its record naming id and a new footer, and its later state
// (<QID>.json) naming id if it has one; for the two-file
// layout of earlier relays (<QID>.eml and <QID>.json), which the queue
// still loads, the .eml as is and the .json naming id.
func copyFiles(dir, orig string) (func(id string) map[string][]byte, error) {
	if b, err := os.ReadFile(filepath.Join(dir, orig+".msg")); err == nil {
		msg, rec, ok := queue.SplitMessageFile(b)
		if !ok {
			return nil, fmt.Errorf("%s.msg has no valid trailer: the message was not committed", orig)
		}
		if !bytes.Contains(rec, []byte(orig)) {
			return nil, fmt.Errorf("the record of %s.msg does not name its queue ID", orig)
		}
		// A state change since the commit (the first attempt's deferral)
		// is a <QID>.json beside the file, which the queue reads instead
		// of the trailer's record.
		state, err := os.ReadFile(filepath.Join(dir, orig+".json"))
		if err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("reading the queued message's state: %w", err)
		}
		if state != nil && !bytes.Contains(state, []byte(orig)) {
			return nil, fmt.Errorf("the record %s.json does not name its queue ID", orig)
		}
		return func(id string) map[string][]byte {
			r := bytes.Replace(rec, []byte(orig), []byte(id), 1)
			files := map[string][]byte{".msg": queue.AppendMessageFile(nil, msg, r)}
			if state != nil {
				files[".json"] = bytes.Replace(state, []byte(orig), []byte(id), 1)
			}
			return files
		}, nil
	} else if !os.IsNotExist(err) {
		return nil, fmt.Errorf("reading the queued message: %w", err)
	}
	eml, err := os.ReadFile(filepath.Join(dir, orig+".eml"))
	if err != nil {
		return nil, fmt.Errorf("reading the queued message: %w", err)
	}
	rec, err := os.ReadFile(filepath.Join(dir, orig+".json"))
	if err != nil {
		return nil, fmt.Errorf("reading the queued envelope: %w", err)
	}
	if !bytes.Contains(rec, []byte(orig)) {
		return nil, fmt.Errorf("the envelope %s.json does not name its queue ID", orig)
	}
	return func(id string) map[string][]byte {
		return map[string][]byte{".eml": eml, ".json": bytes.Replace(rec, []byte(orig), []byte(id), 1)}
	}, nil
}

// replicate copies the queued message orig in the queue folder dir under
// n-1 new IDs, as relay/queue's BenchmarkOpen does in process: the message
// as is, its record with the ID it names replaced (copyFiles). Files are
// 0600, like the relay's own; none is fsync'd (the caller syncs once). Four
// goroutines write, so the setup of a large queue takes seconds, not
// minutes.
func replicate(ctx context.Context, dir, orig string, n int) error {
	files, err := copyFiles(dir, orig)
	if err != nil {
		return err
	}
	ids, err := copyIDs(orig, n-1)
	if err != nil {
		return err
	}
	const writers = 4
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := w; i < len(ids); i += writers {
				if err := ctx.Err(); err != nil {
					errs[w] = err
					return
				}
				id := ids[i]
				for ext, data := range files(id) {
					if err := writeNew(filepath.Join(dir, id+ext), data); err != nil {
						errs[w] = err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// writeNew writes a file that must not exist yet: a copy never replaces a
// message of the queue.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// cachedFraction samples up to 1000 of the queue's message files (the
// .msg, or the .eml and the .json of the earlier layout) and returns the fraction of their pages in the page
// cache, or -1 when it cannot tell. Linux may evict cold page cache on its
// own (on this bench's virtual machine, DAMON pages out file pages left
// untouched for a minute), so the restart is not always as warm as the
// copies just written suggest.
func cachedFraction(dir, orig string, n int) float64 {
	ids, err := copyIDs(orig, n-1)
	if err != nil {
		return -1
	}
	ids = append(ids, orig)
	step := max(1, len(ids)/1000)
	in, total := 0, 0
	for i := 0; i < len(ids); i += step {
		for _, ext := range []string{".msg", ".eml", ".json"} {
			a, b, err := resident(filepath.Join(dir, ids[i]+ext))
			if os.IsNotExist(err) {
				continue
			}
			if err != nil {
				return -1
			}
			in, total = in+a, total+b
		}
	}
	if total == 0 {
		return -1
	}
	return float64(in) / float64(total)
}
