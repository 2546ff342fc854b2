//go:build unix

package suppressions

import (
	"io/fs"
	"syscall"
)

// inode tells a file replaced by rename from the one before it, which may
// have the same size and modification time.
func inode(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}
