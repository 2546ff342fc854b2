//go:build unix

package queue

import (
	"os"
	"syscall"
)

// lockDir takes an exclusive, non-blocking flock(2) on the queue folder
// itself, so that two relays never share a queue. The kernel drops it when
// the process dies, even by kill -9.
func lockDir(d *os.File) error {
	rc, err := d.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) {
		lerr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
	}); err != nil {
		return err
	}
	return lerr
}
