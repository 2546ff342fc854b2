package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// OwnLikeDir gives f, a file just created in dir, the owner and group of
// dir when the process runs as root and dir belongs to another user. An
// administrator who runs a command as root in the relay's data dir (owned
// by the relay's user, as docs/operations.md sets it up) would otherwise
// leave a root-owned file that the relay cannot read: a users file the
// reload refuses, so the old logins stay valid. Otherwise it does nothing.
func OwnLikeDir(f *os.File, dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return nil
	}
	if err := f.Chown(int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("giving %s the owner of %s (uid %d): %w; run the command as that user instead, e.g. `sudo -u '#%d' dkimrelay ...`", f.Name(), dir, st.Uid, err, st.Uid)
	}
	return nil
}

// MkdirLikeParent is os.Mkdir followed by OwnLikeDir of the new folder
// with its parent.
func MkdirLikeParent(dir string, perm os.FileMode) error {
	if err := os.Mkdir(dir, perm); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return OwnLikeDir(d, filepath.Dir(dir))
}
