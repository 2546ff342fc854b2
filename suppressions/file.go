package suppressions

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"dkimrelay/internal/atomicfile"
)

// FileStore keeps the suppressions in one JSON file (DATA_DIR/suppressions.json).
// Every change takes a lock file, reads the file, changes it and replaces
// it atomically (fsync'd), so the CLI and a running relay can both write.
// Lookups are answered from memory, read again whenever the file changed
// (one stat per lookup), so a change by the CLI takes effect at the next
// delivery attempt.
type FileStore struct {
	path string
	now  func() time.Time

	mu      sync.Mutex
	entries map[string]Entry // by Key
	stamp   fileStamp        // of the file the entries were read from
}

type fileStamp struct {
	mod  time.Time
	size int64
	ino  uint64
}

// OpenFile opens the store at path; a missing file is an empty store.
func OpenFile(path string) (*FileStore, error) {
	s := &FileStore{path: path, now: time.Now}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.readLocked(); err != nil {
		return nil, err
	}
	return s, nil
}

func stampOf(fi fs.FileInfo) fileStamp {
	return fileStamp{mod: fi.ModTime(), size: fi.Size(), ino: inode(fi)}
}

// readLocked reads the file into memory.
func (s *FileStore) readLocked() error {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		s.entries, s.stamp = map[string]Entry{}, fileStamp{}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the suppression list: %w", err)
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("reading the suppression list: %w", err)
	}
	var list []Entry
	if len(strings.TrimSpace(string(data))) > 0 {
		if err := json.Unmarshal(data, &list); err != nil {
			return fmt.Errorf("%s is damaged (%v): fix it, or remove it to start an empty list", s.path, err)
		}
	}
	entries := make(map[string]Entry, len(list))
	for _, e := range list {
		k, err := Key(e.Addr)
		if err != nil {
			return fmt.Errorf("%s: %q: %w", s.path, e.Addr, err)
		}
		entries[k] = e
	}
	s.entries, s.stamp = entries, stampOf(fi)
	return nil
}

// refreshLocked reads the file again if it changed since it was read.
func (s *FileStore) refreshLocked() error {
	fi, err := os.Stat(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if len(s.entries) > 0 {
			s.entries, s.stamp = map[string]Entry{}, fileStamp{}
		}
		return nil
	case err != nil:
		return fmt.Errorf("reading the suppression list: %w", err)
	case stampOf(fi) == s.stamp:
		return nil
	}
	return s.readLocked()
}

// Lookup implements Store.
func (s *FileStore) Lookup(addr string, now time.Time) (Entry, bool, error) {
	k, err := Key(addr)
	if err != nil {
		return Entry{}, false, nil // nothing to suppress: delivery decides
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refreshLocked(); err != nil {
		return Entry{}, false, err
	}
	e, ok := s.entries[k]
	if !ok || !e.Active(now) {
		return Entry{}, false, nil
	}
	return e, true, nil
}

// List implements Store.
func (s *FileStore) List(now time.Time) ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refreshLocked(); err != nil {
		return nil, err
	}
	var out []Entry
	for _, e := range s.entries {
		if e.Active(now) {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(lowerASCII(a.Addr), lowerASCII(b.Addr)) })
	return out, nil
}

// Add implements Store.
func (s *FileStore) Add(e Entry) error {
	k, err := Key(e.Addr)
	if err != nil {
		return fmt.Errorf("%q: %w", e.Addr, err)
	}
	_, err = s.update(func(m map[string]Entry) bool {
		m[k] = e
		return true
	})
	return err
}

// Remove implements Store.
func (s *FileStore) Remove(addr string) (bool, error) {
	k, err := Key(addr)
	if err != nil {
		return false, fmt.Errorf("%q: %w", addr, err)
	}
	return s.update(func(m map[string]Entry) bool {
		_, ok := m[k]
		delete(m, k)
		return ok
	})
}

// update changes the entries under the lock file and writes them back,
// dropping the lapsed ones; change reports whether it changed anything.
func (s *FileStore) update(change func(map[string]Entry) bool) (bool, error) {
	lock, err := atomicfile.LockFile(s.path + ".lock")
	if err != nil {
		return false, fmt.Errorf("locking the suppression list: %w", err)
	}
	defer lock.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.readLocked(); err != nil {
		return false, err
	}
	changed := change(s.entries)
	now := s.now()
	list := make([]Entry, 0, len(s.entries))
	for k, e := range s.entries {
		if !e.Active(now) {
			delete(s.entries, k)
			continue
		}
		list = append(list, e)
	}
	slices.SortFunc(list, func(a, b Entry) int { return strings.Compare(lowerASCII(a.Addr), lowerASCII(b.Addr)) })
	data, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return false, err
	}
	if err := atomicfile.Write(s.path, append(data, '\n'), 0o600); err != nil {
		return false, fmt.Errorf("writing the suppression list: %w", err)
	}
	if fi, err := os.Stat(s.path); err == nil {
		s.stamp = stampOf(fi)
	}
	return changed, nil
}
