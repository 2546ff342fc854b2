package dedup

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func key(b byte) Key { var k Key; k[0] = b; return k }

func TestIndexRemembersAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "duplicates")
	x, err := Open(path, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	qid, c, err := x.Lookup(ctx, key(1))
	if err != nil || qid != "" || c == nil {
		t.Fatalf("first lookup: %q, %v, %v; want a claim", qid, c, err)
	}
	if err := c.Done("QID1"); err != nil {
		t.Fatal(err)
	}
	_, c2, _ := x.Lookup(ctx, key(2))
	c2.Done("") // not queued: not remembered
	if qid, _, _ := x.Lookup(ctx, key(1)); qid != "QID1" {
		t.Fatalf("second lookup: %q, want QID1", qid)
	}
	x.Close()
	// A torn line, as a crash mid-append leaves it, is dropped.
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("1234 abcd")
	f.Close()

	x, err = Open(path, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if qid, _, _ := x.Lookup(ctx, key(1)); qid != "QID1" {
		t.Errorf("after a restart: %q, want QID1", qid)
	}
	if qid, c, _ := x.Lookup(ctx, key(2)); qid != "" || c == nil {
		t.Errorf("a message that was not queued is remembered as %q", qid)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("index mode %v, want 0600", st.Mode().Perm())
	}
}

func TestIndexWindow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "duplicates")
	x, err := Open(path, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(-time.Hour)
	x.now = func() time.Time { return now }
	_, c, _ := x.Lookup(context.Background(), key(1))
	c.Done("QID1")
	now = now.Add(59 * time.Second)
	if qid, _, _ := x.Lookup(context.Background(), key(1)); qid != "QID1" {
		t.Errorf("within the window: %q, want QID1", qid)
	}
	now = now.Add(time.Second)
	qid, c, _ := x.Lookup(context.Background(), key(1))
	if qid != "" {
		t.Fatalf("past the window: %q, want a new message", qid)
	}
	c.Done("QID2")
	x.Close()
	data, _ := os.ReadFile(path)
	if n := strings.Count(string(data), "\n"); n != 2 {
		t.Errorf("the file holds %d lines, want 2 (appended)", n)
	}
	// Opened after the window, the old entries are dropped from the file.
	x, err = Open(path, time.Nanosecond)
	if err != nil {
		t.Fatal(err)
	}
	x.Close()
	if data, _ := os.ReadFile(path); len(data) != 0 {
		t.Errorf("expired entries kept: %q", data)
	}
}

// TestIndexConcurrentCopies checks that a copy arriving while the first is
// being queued waits for it and gets its queue ID.
func TestIndexConcurrentCopies(t *testing.T) {
	x, err := Open(filepath.Join(t.TempDir(), "duplicates"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	_, c, _ := x.Lookup(context.Background(), key(7))
	got := make(chan string)
	go func() {
		qid, _, _ := x.Lookup(context.Background(), key(7))
		got <- qid
	}()
	select {
	case q := <-got:
		t.Fatalf("the copy did not wait for the first: %q", q)
	case <-time.After(50 * time.Millisecond):
	}
	c.Done("QID7")
	if q := <-got; q != "QID7" {
		t.Errorf("the copy got %q, want QID7", q)
	}
	ctx, cancel := context.WithCancel(context.Background())
	_, c, _ = x.Lookup(ctx, key(8))
	cancel()
	if _, _, err := x.Lookup(ctx, key(8)); err == nil {
		t.Error("a cancelled wait returned no error")
	}
	c.Done("")
}
