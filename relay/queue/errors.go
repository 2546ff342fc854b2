package queue

import (
	"errors"
	"fmt"
	"syscall"
)

var (
	// ErrNotFound: no queued message has this ID (or the ID is malformed).
	ErrNotFound = errors.New("queue: no such message")
	// ErrNoSpace: the disk or the quota is full. It is transient: the SMTP
	// server answers 452 4.3.1 (RFC 3463) and the client tries later.
	ErrNoSpace = errors.New("queue: not enough disk space")
	// ErrClosed: the queue was closed.
	ErrClosed = errors.New("queue: closed")
)

// storageError wraps a file system error with what was being done, and
// with ErrNoSpace as well when the disk or quota is full, so that callers
// can tell "try later, the disk is full" from other failures. Every
// storage error is transient from the client's point of view: the message
// was not acknowledged and may be sent again.
func storageError(what string, err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("queue: %s: %w: %w", what, ErrNoSpace, err)
	}
	return fmt.Errorf("queue: %s: %w", what, err)
}
