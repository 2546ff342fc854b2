package suppressions

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestKey(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"Alice@Example.NET", "alice@example.net", true},
		{"alice@example.net.", "alice@example.net", true},
		{"\"a b\"@example.net", "", false},
		{"a@b@Example.org", "a@b@example.org", true},
		// Only ASCII folds: a Kelvin sign is not a k.
		{"\u212aate@example.net", "\u212aate@example.net", true},
		{"no-at-sign", "", false},
		{"@example.net", "", false},
		{"alice@", "", false},
	}
	for _, tt := range tests {
		got, err := Key(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("Key(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestFileStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "suppressions.json")
	now := time.Now()
	relay, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	clock := now
	relay.now = func() time.Time { return clock }
	cli, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}

	if err := relay.Add(Entry{Addr: "Nobody@Example.net", Reason: "bounce", Reply: "mx said: 550 5.1.1 no such user",
		QID: "Q1", Created: now, Until: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := cli.Add(Entry{Addr: "spam-trap@example.org", Reason: "reported as a trap", Created: now}); err != nil {
		t.Fatal(err)
	}
	// The relay sees the CLI's entry at once.
	for _, addr := range []string{"nobody@EXAMPLE.net", "Spam-Trap@example.org"} {
		if _, ok, err := relay.Lookup(addr, now); !ok || err != nil {
			t.Errorf("Lookup(%q) = %v, %v; want suppressed", addr, ok, err)
		}
	}
	if e, ok, _ := relay.Lookup("nobody@example.net", now.Add(2*time.Hour)); ok {
		t.Errorf("a lapsed suppression still applies: %+v", e)
	}
	list, err := cli.List(now)
	if err != nil || len(list) != 2 || list[0].Addr != "Nobody@Example.net" || list[0].QID != "Q1" || !list[1].Until.IsZero() {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if ok, err := cli.Remove("NOBODY@example.net"); !ok || err != nil {
		t.Errorf("Remove = %v, %v; want true", ok, err)
	}
	if ok, _ := cli.Remove("nobody@example.net"); ok {
		t.Error("a second Remove found the entry again")
	}
	if _, ok, _ := relay.Lookup("nobody@example.net", now); ok {
		t.Error("the relay still suppresses an address the CLI removed")
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}

	// Reopened (a restart), the store holds what was written.
	again, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := again.Lookup("spam-trap@example.org", now); !ok {
		t.Error("a suppression did not survive reopening the store")
	}
	if err := cli.Add(Entry{Addr: "not an address"}); err == nil {
		t.Error("Add accepted a malformed address")
	}

	os.WriteFile(path, []byte("{not json"), 0o600)
	if _, err := OpenFile(path); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("a damaged file: %v, want an error saying so", err)
	}
}
