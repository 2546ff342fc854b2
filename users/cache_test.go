package users

import (
	"path/filepath"
	"testing"
	"time"
)

// cacheDB is a users file with one login, "app", whose password is pw.
func cacheDB(t *testing.T, dir, pw string) *DB {
	t.Helper()
	path := filepath.Join(dir, "users.toml")
	if err := Update(path, func(db *DB) error {
		if _, ok := db.Get("app"); ok {
			return db.SetPassword("app", pw)
		}
		return db.Add("app", pw, []string{"@example.org"})
	}); err != nil {
		t.Fatal(err)
	}
	db, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestCache(t *testing.T) {
	const pw, other = "correct horse battery", "incorrect horse battery"
	dir := t.TempDir()
	db := cacheDB(t, dir, pw)
	now := time.Unix(1_800_000_000, 0)
	c := NewCache(10 * time.Minute)
	c.now = func() time.Time { return now }

	type step struct {
		name            string
		login, password string
		advance         time.Duration
		wantOK, wantHit bool
	}
	for _, s := range []step{
		{name: "first login is verified in full", login: "app", password: pw, wantOK: true},
		{name: "the same password again is a hit", login: "app", password: pw, wantOK: true, wantHit: true},
		{name: "a wrong password is refused, never a hit", login: "app", password: other},
		{name: "an empty password is refused", login: "app", password: ""},
		{name: "the entry survives a failure", login: "app", password: pw, wantOK: true, wantHit: true},
		{name: "an unknown login is refused", login: "nobody", password: pw},
		{name: "just before expiry it still hits", login: "app", password: pw, advance: 10*time.Minute - time.Second, wantOK: true, wantHit: true},
		{name: "at expiry it is verified in full again", login: "app", password: pw, advance: time.Second, wantOK: true},
		{name: "and cached from then on", login: "app", password: pw, wantOK: true, wantHit: true},
	} {
		now = now.Add(s.advance)
		u, hit, err := c.Authenticate(db, s.login, s.password)
		if (err == nil) != s.wantOK || hit != s.wantHit {
			t.Fatalf("%s: got user %v, hit %v, err %v; want ok %v, hit %v", s.name, u, hit, err, s.wantOK, s.wantHit)
		}
		if s.wantOK && u.Name != s.login {
			t.Fatalf("%s: got user %q", s.name, u.Name)
		}
	}

	// A password change (the relay reloads the users file) ends the entry:
	// the old password no longer logs in, even though it was cached.
	db = cacheDB(t, dir, other)
	if _, hit, err := c.Authenticate(db, "app", pw); err == nil || hit {
		t.Fatalf("old password after a change: hit %v, err %v; want refused", hit, err)
	}
	if _, hit, err := c.Authenticate(db, "app", other); err != nil || hit {
		t.Fatalf("new password: hit %v, err %v; want a full verification", hit, err)
	}
}

func TestCacheOff(t *testing.T) {
	const pw = "correct horse battery"
	db := cacheDB(t, t.TempDir(), pw)
	for _, c := range []*Cache{nil, NewCache(0)} {
		for range 2 {
			if _, hit, err := c.Authenticate(db, "app", pw); err != nil || hit {
				t.Fatalf("cache %v: hit %v, err %v; want a full verification each time", c, hit, err)
			}
		}
	}
}

func TestCachePrunesExpired(t *testing.T) {
	const pw = "correct horse battery"
	dir := t.TempDir()
	db := cacheDB(t, dir, pw)
	now := time.Unix(1_800_000_000, 0)
	c := NewCache(time.Minute)
	c.now = func() time.Time { return now }
	if _, _, err := c.Authenticate(db, "app", pw); err != nil {
		t.Fatal(err)
	}
	if err := Update(filepath.Join(dir, "users.toml"), func(db *DB) error {
		return db.Add("second", pw, []string{"@example.org"})
	}); err != nil {
		t.Fatal(err)
	}
	db, err := Load(filepath.Join(dir, "users.toml"))
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	if _, _, err := c.Authenticate(db, "second", pw); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.entries["app"]; ok || len(c.entries) != 1 {
		t.Fatalf("entries after expiry: %v; want only the second login's", c.entries)
	}
}

// The MAC keeps login and password apart, so that no other pair of the
// two gives an entry's value.
func TestCacheBindsLogin(t *testing.T) {
	c := NewCache(time.Minute)
	if c.mac("a", "bc") == c.mac("ab", "c") || c.mac("a", "x") == c.mac("b", "x") {
		t.Fatal("the MAC does not separate login and password")
	}
}

// Logins of a burst that arrive together share one verification: the
// first runs argon2id, the others wait for it and are answered from the
// cache. Wrong passwords arriving together are each verified in full.
func TestCacheBurst(t *testing.T) {
	const pw = "correct horse battery"
	db := cacheDB(t, t.TempDir(), pw)
	c := NewCache(time.Minute)
	type result struct {
		hit bool
		err error
	}
	burst := func(password string, n int) []result {
		start := make(chan struct{})
		out := make(chan result, n)
		for range n {
			go func() {
				<-start
				_, hit, err := c.Authenticate(db, "app", password)
				out <- result{hit, err}
			}()
		}
		close(start)
		var rs []result
		for range n {
			rs = append(rs, <-out)
		}
		return rs
	}
	full := 0
	for _, r := range burst(pw, 8) {
		if r.err != nil {
			t.Fatalf("a login of the burst failed: %v", r.err)
		}
		if !r.hit {
			full++
		}
	}
	if full != 1 {
		t.Errorf("%d of 8 simultaneous logins were verified in full, want 1", full)
	}
	for _, r := range burst("wrong horse battery", 3) {
		if r.err == nil || r.hit {
			t.Errorf("a wrong password of a burst: hit %v, err %v", r.hit, r.err)
		}
	}
	if len(c.flights) != 0 {
		t.Errorf("flights left: %d", len(c.flights))
	}
}
