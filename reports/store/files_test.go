package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"dkimrelay/reports/store"
	"dkimrelay/reports/store/storetest"
)

// TestAddOnce: the store on its files keeps the contract of every store,
// one file a report, readable by its owner alone.
func TestAddOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	storetest.AddOnce(t, st)
	files, _ := filepath.Glob(filepath.Join(dir, "tlsrpt", "*.json"))
	if len(files) != 2 || !strings.HasPrefix(filepath.Base(files[0]), "google_inc-") {
		t.Fatalf("files %v", files)
	}
	if fi, _ := os.Stat(files[0]); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode())
	}

	// A damaged file is named; the others are still listed.
	os.WriteFile(filepath.Join(dir, "tlsrpt", "broken-00.json"), []byte("{"), 0o600)
	all, err := st.List(ctx, time.Time{})
	if len(all) != 2 || err == nil || !strings.Contains(err.Error(), "broken-00.json is damaged") {
		t.Errorf("List with a damaged file: %d reports, %v", len(all), err)
	}
}

// TestOwnerOfDataDir: run as root in a data dir that belongs to the
// relay's user, the store's folders and files get that user, so the relay
// can still add the reports it fetches. Run as another user, they are
// that user's.
func TestOwnerOfDataDir(t *testing.T) {
	data := t.TempDir()
	uid, gid := os.Getuid(), os.Getgid()
	if uid == 0 {
		uid, gid = 65534, 65534
		if err := os.Chown(data, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	st, err := store.OpenFiles(filepath.Join(data, "reports"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Add(context.Background(), storetest.TLSReport("Google Inc.", "r1", time.Now())); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(data, "reports", "tlsrpt", "*.json"))
	for _, p := range append(files, filepath.Join(data, "reports"), filepath.Join(data, "reports", "dmarc"),
		filepath.Join(data, "reports", "tlsrpt"), filepath.Join(data, "reports", ".lock")) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		sys := fi.Sys().(*syscall.Stat_t)
		if int(sys.Uid) != uid || int(sys.Gid) != gid {
			t.Errorf("%s belongs to %d:%d, want %d:%d", p, sys.Uid, sys.Gid, uid, gid)
		}
	}
}
