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
