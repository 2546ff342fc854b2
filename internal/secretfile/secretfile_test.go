package secretfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		mode   fs.FileMode
		access Access
		want   string // "" for accepted, else a phrase of the error
	}{
		{0o600, OwnerOnly, ""},
		{0o400, OwnerOnly, ""},
		{0o640, OwnerOnly, "is readable by others (mode 0640): run chmod 600 "},
		{0o644, OwnerOnly, "is readable by others (mode 0644)"},
		{0o620, OwnerOnly, "is writable by others (mode 0620)"},
		{0o601, OwnerOnly, "is open to others (mode 0601)"},
		{0o600, GroupRead, ""},
		{0o640, GroupRead, ""},
		{0o440, GroupRead, ""},
		{0o644, GroupRead, "is readable by others (mode 0644): run chmod 600 "},
		{0o604, GroupRead, "is readable by others"},
		{0o620, GroupRead, "is writable by others (mode 0620)"},
		{0o602, GroupRead, "is writable by others"},
		{0o660, GroupRead, "or 640 for a group"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%04o-%d", tt.mode, tt.access), func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "secret")
			if err := os.WriteFile(p, []byte("s"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, tt.mode); err != nil {
				t.Fatal(err)
			}
			err := CheckPath(p, tt.access)
			if tt.want == "" {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			var pe *PermissionError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want a PermissionError", err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, p+" ") || !strings.Contains(msg, tt.want) || !strings.Contains(msg, "chmod 600 "+p) {
				t.Errorf("error %q should name the file, say %q and the chmod", msg, tt.want)
			}
		})
	}
}

func TestReadPassword(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string, mode fs.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if pw, err := ReadPassword(write("ok", "hunter2\r\n", 0o600)); err != nil || pw != "hunter2" {
		t.Errorf("ReadPassword = %q, %v", pw, err)
	}
	if pw, err := ReadPassword(write("lines", "first\nsecond\n", 0o600)); err != nil || pw != "first" {
		t.Errorf("two lines: %q, %v", pw, err)
	}
	if _, err := ReadPassword(write("empty", "\n", 0o600)); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty file: %v", err)
	}
	p := write("open", "hunter2\n", 0o644)
	_, err := ReadPassword(p)
	if err == nil || !strings.Contains(err.Error(), "chmod 600 "+p) || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("readable file: %v", err)
	}
	if _, err := ReadPassword(filepath.Join(dir, "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	big := write("big", strings.Repeat("x", maxSize+1), 0o600)
	if _, err := ReadFile(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("large file: %v", err)
	}
}
