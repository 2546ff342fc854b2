package goldenfile

import (
	"os"
	"path/filepath"
	"testing"
)

// recorder is a testing.TB that notes failures instead of ending the test.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Fatalf(string, ...any) { r.failed = true }
func (r *recorder) Fatal(...any)          { r.failed = true }
func (r *recorder) Helper()               {}

func TestCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "testdata", "out.golden")
	tests := []struct {
		name       string
		got        string
		update     bool
		wantFailed bool
	}{
		{"missing file", "one\n", false, true},
		{"update writes it", "one\n", true, false},
		{"same output", "one\n", false, false},
		{"other output", "two\n", false, true},
	}
	for _, tt := range tests {
		r := &recorder{TB: t}
		Check(r, path, []byte(tt.got), tt.update)
		if r.failed != tt.wantFailed {
			t.Errorf("%s: failed = %v, want %v", tt.name, r.failed, tt.wantFailed)
		}
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "one\n" {
		t.Errorf("golden file holds %q, %v; want the updated output", b, err)
	}
}
