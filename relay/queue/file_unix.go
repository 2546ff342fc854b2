//go:build unix

package queue

import (
	"os"
	"syscall"
)

// openFile is os.OpenFile for the spool's regular files, with fewer
// system calls: os.OpenFile offers every file it opens to the network
// poller (two fcntl calls to make it non-blocking, an epoll_ctl that
// fails for a regular file, two more fcntl calls to undo it), five calls
// wasted per file, three files per message. os.NewFile takes the
// descriptor as it is. Reads and writes of regular files block in the
// kernel either way.
func openFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	var fd int
	var err error
	for {
		// As os.OpenFile does: the Go runtime's preemption signals can
		// interrupt a system call.
		fd, err = syscall.Open(name, flag|syscall.O_CLOEXEC, uint32(perm.Perm()))
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// renameFile is os.Rename without its lstat(2) of the new name (which
// os.Rename makes to refuse renaming over a directory: the queue's own
// names never are one).
func renameFile(from, to string) error {
	for {
		err := syscall.Rename(from, to)
		if err != syscall.EINTR {
			if err != nil {
				return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
			}
			return nil
		}
	}
}
