package relay

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"dkimrelay/cluster"
	"dkimrelay/internal/pgtest"
	"dkimrelay/suppressions"
)

// TestSharedSuppressions: in a cluster, a suppression one relay learns
// reaches another relay's data_dir through the database, and so does its
// removal.
func TestSharedSuppressions(t *testing.T) {
	pg := pgtest.Start(t)
	conn := pg.NewDatabase(t)
	ctx := context.Background()
	relayAt := func(node string) (*Relay, *suppressions.FileStore) {
		db, err := cluster.Open(ctx, cluster.Options{ConnString: conn, Node: node})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		dir := t.TempDir()
		store, err := suppressions.OpenFile(filepath.Join(dir, "suppressions.json"))
		if err != nil {
			t.Fatal(err)
		}
		return &Relay{mirror: cluster.NewMirror(db, dir)}, store
	}
	a, fileA := relayAt("a")
	b, fileB := relayAt("b")
	shared := a.sharedSuppressions(fileA)
	now := time.Now()
	if err := shared.Add(suppressions.Entry{Addr: "gone@example.net", Reason: "bounce", Created: now, Until: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.mirror.Pull(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := fileB.Lookup("Gone@example.net", now); !ok || err != nil {
		t.Fatalf("relay b does not see relay a's suppression: %v, %v", ok, err)
	}
	if removed, err := shared.Remove("gone@example.net"); !removed || err != nil {
		t.Fatalf("Remove = %v, %v", removed, err)
	}
	if _, err := b.mirror.Pull(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := fileB.Lookup("gone@example.net", now); ok {
		t.Error("relay b still suppresses an address removed on relay a")
	}
}
