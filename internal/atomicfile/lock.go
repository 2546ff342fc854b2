package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ErrLocked is returned by TryLock when another process holds the lock.
var ErrLocked = errors.New("locked by another process")

// Lock is an advisory flock(2) on a file, released by Unlock or when the
// process ends (so a kill -9 never leaves a stale lock behind).
type Lock struct{ f *os.File }

// LockFile blocks until it holds an exclusive lock on path (created 0600).
func LockFile(path string) (*Lock, error) { return lock(path, 0) }

// TryLock takes the lock on path or fails at once with ErrLocked.
func TryLock(path string) (*Lock, error) { return lock(path, unix.LOCK_NB) }

func lock(path string, flags int) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := OwnLikeDir(f, filepath.Dir(path)); err != nil {
		f.Close()
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|flags)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
