package users

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTrafficClass(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.toml")
	err := Update(path, func(db *DB) error {
		if err := db.Add("mastodon", "correct horse battery", []string{"@example.org"}); err != nil {
			return err
		}
		if err := db.Add("bulk", "correct horse battery", []string{"@example.org"}); err != nil {
			return err
		}
		return db.SetClass("bulk", Bulk)
	})
	if err != nil {
		t.Fatal(err)
	}
	db, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]Class{"mastodon": Transactional, "bulk": Bulk} {
		if u, _ := db.Get(name); u.TrafficClass() != want {
			t.Errorf("%s: class %q, want %q", name, u.TrafficClass(), want)
		}
	}
	if b, _ := os.ReadFile(path); strings.Count(string(b), "class") != 1 {
		t.Errorf("the default class is written to the file, or bulk is not:\n%s", b)
	}
	if err := db.SetClass("bulk", "urgent"); err == nil {
		t.Error("SetClass accepted an unknown class")
	}
	if err := db.SetClass("nobody", Bulk); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetClass of a missing login: %v, want ErrNotFound", err)
	}
	if err := db.SetClass("bulk", Transactional); err != nil {
		t.Fatal(err)
	}
	if u, _ := db.Get("bulk"); u.TrafficClass() != Transactional {
		t.Errorf("class back to %q, want transactional", u.TrafficClass())
	}
}
