//go:build !unix

package queue

import "os"

func openFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag, perm)
}

func renameFile(from, to string) error { return os.Rename(from, to) }
