package pgstore

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"dkimrelay/cluster/clustertest"
	"dkimrelay/reports/dmarcrpt"
	"dkimrelay/reports/store"
	"dkimrelay/reports/store/storetest"
)

// TestImport: a relay's received reports are copied into the database
// with when and from where they were first imported; a second run copies
// nothing twice, and a damaged file is named while the others are copied.
func TestImport(t *testing.T) {
	ctx := context.Background()
	files, err := store.OpenFiles(filepath.Join(t.TempDir(), "reports"))
	if err != nil {
		t.Fatal(err)
	}
	end := storetest.End
	dmarc := store.NewDMARC(&dmarcrpt.Feedback{Metadata: dmarcrpt.Metadata{OrgName: "Yahoo", ReportID: "d1",
		Begin: end.Add(-23 * time.Hour), End: end}})
	dmarc.From = "imap INBOX/42"
	for _, r := range []*store.Report{dmarc, storetest.TLSReport("Microsoft", "t1", end.Add(time.Hour))} {
		if ok, err := files.Add(ctx, r); !ok || err != nil {
			t.Fatalf("adding to the files: %v, %v", ok, err)
		}
	}
	fromFiles, err := files.List(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	db := New(clustertest.OpenNodes(t, "a")[0].Pool)
	if n, err := db.Import(ctx, files); err != nil || n != (Imported{Copied: 2}) {
		t.Fatalf("first import: %+v, %v; want 2 copied", n, err)
	}
	if n, err := db.Import(ctx, files); err != nil || n != (Imported{Present: 2}) {
		t.Fatalf("second import: %+v, %v; want 2 there already", n, err)
	}
	got, err := db.List(ctx, time.Time{})
	if err != nil || len(got) != 2 {
		t.Fatalf("List: %v, %v", got, err)
	}
	for i, r := range got {
		want := fromFiles[i]
		if r.Kind != want.Kind || r.ID != want.ID || r.From != want.From || !r.Imported.Equal(want.Imported) {
			t.Errorf("report %d: %s %q from %q imported %v; want %s %q from %q imported %v",
				i, r.Kind, r.ID, r.From, r.Imported, want.Kind, want.ID, want.From, want.Imported)
		}
	}
	if got[0].DMARC == nil || got[0].DMARC.Metadata.OrgName != "Yahoo" || got[1].TLS == nil {
		t.Errorf("reports read back as %+v, %+v", got[0], got[1])
	}

	damaged := filepath.Join(files.Dir(), string(store.TLSRPT), "broken-x.json")
	if err := os.WriteFile(damaged, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := files.Add(ctx, storetest.TLSReport("Google", "t2", end)); err != nil {
		t.Fatal(err)
	}
	n, err := db.Import(ctx, files)
	if err == nil || n != (Imported{Copied: 1, Present: 2}) {
		t.Fatalf("import with a damaged file: %+v, %v; want 1 copied, 2 there, and an error", n, err)
	}
}
