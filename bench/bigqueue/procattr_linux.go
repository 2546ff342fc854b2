package main

import "syscall"

// procAttr puts a child in its own process group and has the kernel send
// it SIGTERM should the bench die without cleaning up (SIGKILL, a crash),
// so no relay is left holding the ports.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
