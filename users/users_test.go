package users

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestAddAuthenticate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.toml")
	err := Update(path, func(db *DB) error {
		return db.Add("mastodon", "correct horse battery", []string{"notifications@example.org", "@example.net"})
	})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("users file mode %o, want 0600", st.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), "correct horse") || !strings.Contains(string(b), "$argon2id$") {
		t.Fatalf("file must hold an argon2id hash only:\n%s", b)
	}
	db, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Authenticate("mastodon", "correct horse battery"); err != nil {
		t.Errorf("right password refused: %v", err)
	}
	for _, c := range []struct{ user, pw string }{
		{"mastodon", "wrong password!!"},
		{"mastodon", ""},
		{"nobody", "correct horse battery"},
		{"Mastodon", "correct horse battery"},
	} {
		if _, err := db.Authenticate(c.user, c.pw); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("Authenticate(%q, %q) = %v, want ErrBadCredentials", c.user, c.pw, err)
		}
	}
}

func TestMaySend(t *testing.T) {
	u := &User{Name: "m", Allow: []string{"notifications@example.org", "@example.net"}}
	cases := []struct {
		addr string
		want bool
	}{
		{"notifications@example.org", true},
		{"Notifications@EXAMPLE.org", true},
		{"notifications@example.org.", true},
		{"admin@example.org", false},
		{"anyone@example.net", true},
		{"anyone@sub.example.net", false},
		{"notifications@example.org@evil.com", false},
		{"", false},
		{"@example.net", false},
		{"noat", false},
		{"notificationſ@example.org", false},       // U+017F folds to s
		{"notifications@example.org\u212a", false}, // KELVIN SIGN folds to k
		{"anyone@example.ne\u0442", false},
	}
	for _, c := range cases {
		if got := u.MaySend(c.addr); got != c.want {
			t.Errorf("MaySend(%q) = %v, want %v", c.addr, got, c.want)
		}
	}
}

func TestBcryptHashAccepted(t *testing.T) {
	h, _ := bcrypt.GenerateFromPassword([]byte("migrated password"), bcrypt.MinCost)
	path := filepath.Join(t.TempDir(), "users.toml")
	os.WriteFile(path, []byte("[[user]]\nname = \"old\"\nhash = '"+string(h)+"'\nallow = [\"@example.org\"]\n"), 0o600)
	db, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Authenticate("old", "migrated password"); err != nil {
		t.Error(err)
	}
}

func TestLoadRefuses(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, text string
		mode       os.FileMode
		want       string
	}{
		{"world readable", "", 0o644, "chmod 600"},
		{"damaged", "[[user]\n", 0o600, "damaged"},
		{"bad hash", "[[user]]\nname = \"a\"\nhash = \"plain\"\nallow = [\"@x.org\"]\n", 0o600, "neither argon2id nor bcrypt"},
		{"unknown key", "[[user]]\nname = \"a\"\npassword = \"x\"\n", 0o600, "unknown key"},
		{"unknown class", "[[user]]\nname = \"a\"\nhash = \"$2a$04$abcdefghijklmnopqrstuuWzF6gBVlyyl6d7z2FxUOi4Uo2Cv1r7K\"\nallow = [\"@x.org\"]\nclass = \"urgent\"\n", 0o600, "traffic class"},
	}
	for _, c := range cases {
		p := filepath.Join(dir, c.name)
		os.WriteFile(p, []byte(c.text), c.mode)
		os.Chmod(p, c.mode)
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestUpdateErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.toml")
	add := func(name, pw string, allow ...string) error {
		return Update(path, func(db *DB) error { return db.Add(name, pw, allow) })
	}
	if err := add("a", "long enough password", "@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := add("a", "long enough password", "@example.org"); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate: %v", err)
	}
	if err := add("b", "short", "@example.org"); err == nil {
		t.Error("short password accepted")
	}
	if err := add("c d", "long enough password", "@example.org"); err == nil {
		t.Error("name with a space accepted")
	}
	if err := add("c", "long enough password", "example.org"); err == nil {
		t.Error("sender without @ accepted")
	}
	if err := add("c", "long enough password"); err == nil {
		t.Error("login without senders accepted")
	}
	if err := Update(path, func(db *DB) error { return db.Remove("zz") }); !errors.Is(err, ErrNotFound) {
		t.Errorf("remove missing: %v", err)
	}
	if err := Update(path, func(db *DB) error { return db.SetPassword("a", "another long password") }); err != nil {
		t.Fatal(err)
	}
	db, _ := Load(path)
	if _, err := db.Authenticate("a", "another long password"); err != nil {
		t.Error("new password refused")
	}
}

// Concurrent CLI invocations must not lose each other's logins.
func TestConcurrentUpdates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.toml")
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			name := string(rune('a' + i))
			if err := Update(path, func(db *DB) error { return db.Add(name, "long enough password", []string{"@x.org"}) }); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	db, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(db.List()); n != 6 {
		t.Errorf("%d logins after 6 concurrent adds", n)
	}
}
