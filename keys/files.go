package keys

import (
	"dkimrelay/internal/atomicfile"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Names of files in the store. Everything dkimrelay writes besides keys
// starts with a dot, which no domain or selector can (see checkName).
const (
	lockName   = ".lock"
	tmpMarker  = ".tmp-"
	pemSuffix  = ".pem"
	metaSuffix = ".json"
	// usedMarker + selector records a selector whose key was removed: its
	// TXT record may still be in DNS or in resolvers' caches, so a derived
	// selector never takes the name again (see commitNew).
	usedMarker = ".used-"
)

// writeFileAtomic replaces dir/name with data so that a reader, or a crash,
// sees either the old file or the new one, never a torn one: write a
// temporary file in the same folder (rename is atomic only within one file
// system), fsync it, rename it into place, then fsync the folder so the
// rename itself survives a power loss.
func writeFileAtomic(dir, name string, data []byte, perm fs.FileMode) (err error) {
	f, err := os.CreateTemp(dir, "."+name+tmpMarker+"*")
	if err != nil {
		return fmt.Errorf("keys: writing %s: %w", filepath.Join(dir, name), err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// CreateTemp makes 0600 files already; Chmod states the intent and
	// ignores the umask.
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("keys: writing %s: %w", tmp, err)
	}
	if err = atomicfile.OwnLikeDir(f, dir); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("keys: writing %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("keys: writing %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("keys: writing %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("keys: writing %s: %w", filepath.Join(dir, name), err)
	}
	return syncDir(dir)
}

// syncDir fsyncs a folder, making creations, renames and removals in it
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("keys: syncing %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("keys: syncing %s: %w", dir, err)
	}
	return nil
}

// mkdirSync creates dir (mode 0700) if it does not exist, durably.
func mkdirSync(dir string) error {
	err := atomicfile.MkdirLikeParent(dir, 0o700)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	return syncDir(filepath.Dir(dir))
}

// removeIfExists removes a file; a file already gone is not an error.
func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("keys: %w", err)
	}
	return nil
}

// exists reports whether path names anything, including a broken symlink.
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func isTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, tmpMarker)
}

// cleanup removes what interrupted commands leave behind: temporary files,
// and private keys whose metadata was never written (an interrupted Generate)
// or already deleted (an interrupted Remove or Prune). Such a key was never
// reported to anyone as existing. It must run with the lock held, so that no
// other writer is between its two renames. It is best effort: what it cannot
// remove now, the next change tries again, and readers ignore it meanwhile.
func (s *Store) cleanup() {
	s.removeTemps(s.dir)
	for _, domain := range s.domainNames() {
		ddir := filepath.Join(s.dir, domain)
		s.removeTemps(ddir)
		entries, err := os.ReadDir(ddir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			name := e.Name()
			sel, ok := strings.CutSuffix(name, pemSuffix)
			if !ok || !e.Type().IsRegular() || strings.HasPrefix(name, ".") {
				continue
			}
			if !exists(filepath.Join(ddir, sel+metaSuffix)) {
				os.Remove(filepath.Join(ddir, name))
			}
		}
		syncDir(ddir)
	}
}

func (s *Store) removeTemps(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if isTemp(e.Name()) && e.Type().IsRegular() {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
