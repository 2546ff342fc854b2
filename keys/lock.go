package keys

import (
	"dkimrelay/internal/atomicfile"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lock takes the store's exclusive lock, waiting for any other holder.
//
// flock(2) locks belong to the open file description, so each call opens
// the lock file afresh: two goroutines, two Store values in one process and
// two processes all exclude each other the same way. The kernel drops the
// lock if the process dies, so a crashed command never leaves the store
// locked.
func (s *Store) lock() (unlock func(), err error) {
	path := filepath.Join(s.dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("keys: opening lock: %w", err)
	}
	if err := atomicfile.OwnLikeDir(f, s.dir); err != nil {
		f.Close()
		return nil, fmt.Errorf("keys: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("keys: locking %s: %w", path, err)
	}
	// Closing the file releases the lock.
	return func() { f.Close() }, nil
}

// mutate runs fn with the lock held, after clearing debris of interrupted
// commands.
func (s *Store) mutate(fn func() error) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	s.cleanup()
	return fn()
}
