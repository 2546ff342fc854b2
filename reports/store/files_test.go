package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"dkimrelay/reports/tlsrpt"
)

func tlsReport(org, id string, end time.Time) *Report {
	return NewTLS(&tlsrpt.Report{OrganizationName: org, ReportID: id, Start: end.Add(-24 * time.Hour), End: end,
		Policies: []tlsrpt.Policy{{Type: "sts", Domain: "example.org", Successful: 1}}})
}

func TestAddOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := OpenFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	end := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	// Concurrent imports of the same report store it once.
	var wg sync.WaitGroup
	var mu sync.Mutex
	added := 0
	for range 8 {
		wg.Go(func() {
			ok, err := st.Add(ctx, tlsReport("Google Inc.", "r1", end))
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				added++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if added != 1 {
		t.Errorf("added %d times, want once", added)
	}
	// The reporter is compared without regard to case.
	if ok, _ := st.Add(ctx, tlsReport("GOOGLE INC.", "r1", end)); ok {
		t.Error("the same report with the reporter in capitals was stored again")
	}
	if ok, _ := st.Add(ctx, tlsReport("Google Inc.", "r0", end.Add(-48*time.Hour))); !ok {
		t.Error("a second report was not stored")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "tlsrpt", "*.json"))
	if len(files) != 2 || !strings.HasPrefix(filepath.Base(files[0]), "google_inc-") {
		t.Fatalf("files %v", files)
	}
	if fi, _ := os.Stat(files[0]); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode())
	}

	all, err := st.List(ctx, time.Time{})
	if err != nil || len(all) != 2 || all[0].ID != "r0" || all[0].Imported.IsZero() {
		t.Fatalf("List: %v, %v", all, err)
	}
	recent, _ := st.List(ctx, end.Add(-time.Hour))
	if len(recent) != 1 || recent[0].ID != "r1" {
		t.Errorf("List since: %v", recent)
	}

	// A damaged file is named; the others are still listed.
	os.WriteFile(filepath.Join(dir, "tlsrpt", "broken-00.json"), []byte("{"), 0o600)
	all, err = st.List(ctx, time.Time{})
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
	st, err := OpenFiles(filepath.Join(data, "reports"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Add(context.Background(), tlsReport("Google Inc.", "r1", time.Now())); err != nil {
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
