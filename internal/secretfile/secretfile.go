// Package secretfile reads the files that hold the relay's secrets: the
// logins file, DKIM and TLS private keys, the smarthost password, the TSIG
// secret. One rule for all of them, as ssh has for private keys: a secret
// that others can read is already exposed, and one that others can write
// may have been replaced, so such a file is refused with the chmod that
// fixes it.
package secretfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// Access says who besides the owner may have access to a secret file.
type Access int

const (
	// OwnerOnly: the group and others have no access (mode 0600 or 0400).
	OwnerOnly Access = iota
	// GroupRead also lets the group read, for a key a distribution shares
	// with its services through a group (Debian's ssl-cert, mode 0640).
	GroupRead
)

// PermissionError is a secret file whose mode gives away too much.
type PermissionError struct {
	Path   string
	Mode   fs.FileMode // the permission bits found
	Access Access      // what the file may allow
}

// Problem says what is wrong, without the path: "is readable by others
// (mode 0644)".
func (e *PermissionError) Problem() string {
	readers := fs.FileMode(0o044)
	if e.Access == GroupRead {
		readers = 0o004
	}
	what := "open to others"
	switch {
	case e.Mode&readers != 0:
		what = "readable by others"
	case e.Mode&0o022 != 0:
		what = "writable by others"
	}
	return fmt.Sprintf("is %s (mode %04o)", what, e.Mode)
}

// Fix is the command that repairs it.
func (e *PermissionError) Fix() string {
	fix := "run chmod 600 " + e.Path
	if e.Access == GroupRead {
		fix += " (or 640 for a group the relay's user is in)"
	}
	return fix
}

func (e *PermissionError) Error() string {
	return e.Path + " " + e.Problem() + ": " + e.Fix()
}

// Check applies the rule to a file's mode: besides the owner, nobody may
// have any access, but the group may read where access is GroupRead.
func Check(path string, fi fs.FileInfo, access Access) error {
	mask := fs.FileMode(0o077)
	if access == GroupRead {
		mask = 0o037
	}
	if perm := fi.Mode().Perm(); perm&mask != 0 {
		return &PermissionError{Path: path, Mode: perm, Access: access}
	}
	return nil
}

// CheckPath stats path and applies Check, for a file another package
// reads (tls.LoadX509KeyPair).
func CheckPath(path string, access Access) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return Check(path, fi, access)
}

// maxSize bounds what ReadFile reads: secrets are small, and a large file
// at a secret's path is a mistake to report, not to hold in memory.
const maxSize = 1 << 20

// ReadFile reads the secret file at path, owner-only. A missing file is
// an error satisfying errors.Is(err, fs.ErrNotExist).
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := Check(path, fi, OwnerOnly); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSize {
		return nil, fmt.Errorf("%s is larger than %d bytes: is it the right file?", path, maxSize)
	}
	return b, nil
}

// ReadPassword reads a password file: its first line, without the line
// ending.
func ReadPassword(path string) (string, error) {
	b, err := ReadFile(path)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimRight(line, "\r")
	if line == "" {
		return "", fmt.Errorf("%s is empty: write the password on its first line", path)
	}
	return line, nil
}

// IsPermission reports whether err is a PermissionError.
func IsPermission(err error) bool {
	var pe *PermissionError
	return errors.As(err, &pe)
}
