package cluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"dkimrelay/internal/pgtest"
)

func write(t *testing.T, dir, rel, body string) {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func read(dir, rel string) string {
	b, err := os.ReadFile(filepath.Join(dir, rel))
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

// TestMirror: one data dir's files imported (once, however often), a
// change on one machine seen by another through LISTEN/NOTIFY within
// seconds, a removal too; locks and temporary files stay local.
func TestMirror(t *testing.T) {
	pg := pgtest.Start(t)
	conn := pg.NewDatabase(t)
	ctx := context.Background()
	dbA, err := Open(ctx, Options{ConnString: conn, Node: "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer dbA.Close()
	dbB, err := Open(ctx, Options{ConnString: conn, Node: "b"})
	if err != nil {
		t.Fatal(err)
	}
	defer dbB.Close()
	dirA, dirB := t.TempDir(), t.TempDir()
	a, b := NewMirror(dbA, dirA), NewMirror(dbB, dirB)

	if _, err := b.Pull(ctx); !errors.Is(err, ErrNoSharedFiles) {
		t.Fatalf("Pull of an empty database: %v, want ErrNoSharedFiles", err)
	}
	write(t, dirA, "users.toml", "logins v1")
	write(t, dirA, "keys/example.org/s1.json", "{}")
	write(t, dirA, "keys/.lock", "")
	write(t, dirA, "keys/example.org/.s1.json.tmp-1", "debris")
	write(t, dirA, "queue/X.eml", "not shared")
	copied, err := a.Import(ctx)
	if err != nil || len(copied) != 2 {
		t.Fatalf("Import = %v, %v; want the two shared files", copied, err)
	}
	if again, err := a.Import(ctx); err != nil || len(again) != 0 {
		t.Fatalf("second Import = %v, %v; want nothing copied", again, err)
	}

	wctx, stop := context.WithCancel(ctx)
	defer stop()
	changed := make(chan struct{}, 10)
	go b.Watch(wctx, func() { changed <- struct{}{} })
	await := func(what string) {
		t.Helper()
		select {
		case <-changed:
		case <-time.After(10 * time.Second):
			t.Fatalf("relay b did not see %s within 10 s", what)
		}
	}
	await("the import")
	if got := read(dirB, "users.toml"); got != "logins v1" {
		t.Fatalf("b's users.toml = %q", got)
	}
	start := time.Now()
	if err := a.Change(ctx, func() error {
		write(t, dirA, "users.toml", "logins v2")
		return os.Remove(filepath.Join(dirA, "keys/example.org/s1.json"))
	}); err != nil {
		t.Fatal(err)
	}
	await("the change")
	t.Logf("change seen after %v", time.Since(start).Round(time.Millisecond))
	if got := read(dirB, "users.toml"); got != "logins v2" {
		t.Fatalf("b's users.toml = %q after the change", got)
	}
	if _, err := os.Stat(filepath.Join(dirB, "keys/example.org/s1.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a file removed on a is still on b: %v", err)
	}
	if err := a.Change(ctx, func() error { return errors.New("refused") }); err == nil {
		t.Fatal("a failing change reported success")
	}
}
