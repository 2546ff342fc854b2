package queue

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"dkimrelay/relay/outcome"
)

// The queue in testdata/queue-v1 was written by the version before
// single-file messages: each message a <qid>.eml and a <qid>.json. One
// message is fresh; the other was tried once, delivered to one recipient
// and deferred for the other.
const (
	v1Fresh    = "00CNA69Y3T7V6NB4S3VK"
	v1Deferred = "00CNA69XW04WRA8H734N"
)

// copyV1Queue copies testdata/queue-v1 into a fresh queue folder.
func copyV1Queue(t *testing.T) string {
	t.Helper()
	dir := queueDir(t)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join("testdata", "queue-v1")
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestEarlierVersionQueue: after an upgrade, the messages an earlier
// version queued load, read (with and without their signatures), keep
// their layout through state changes and restarts, and leave nothing
// behind once delivered or bounced.
func TestEarlierVersionQueue(t *testing.T) {
	dir := copyV1Queue(t)
	clock := newFakeClock()
	clock.Set(time.Date(2025, 3, 1, 12, 0, 2, 0, time.UTC))
	q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery, Now: clock.Now})
	list := q.List()
	if len(list) != 2 || list[0].ID != v1Deferred || list[1].ID != v1Fresh {
		t.Fatalf("List = %v, want %s then %s", list, v1Deferred, v1Fresh)
	}
	if r := list[0].Rcpts; r[0].State != Delivered || r[1].State != Deferred || r[1].Attempts != 1 || r[1].LastReply != "451 4.7.1 greylisted" {
		t.Errorf("the deferred message's recipients: %+v %+v", *r[0], *r[1])
	}
	for _, m := range list {
		eml, err := os.ReadFile(filepath.Join(dir, m.ID+".eml"))
		if err != nil {
			t.Fatal(err)
		}
		rc, err := q.OpenRaw(m.ID)
		if raw := readAll(t, rc, err); string(raw) != string(eml) || m.Size != int64(len(eml)) {
			t.Errorf("%s: OpenRaw gives %q, want the .eml", m.ID, raw)
		}
		rc, err = q.Open(m)
		if wire := readAll(t, rc, err); string(wire) != m.Envelope.Signatures[0]+string(eml) {
			t.Errorf("%s: Open gives %q, want the signature and the .eml", m.ID, wire)
		}
	}

	// The fresh one is delivered: both its files go.
	m := nextNow(t, q)
	if m.ID != v1Fresh {
		t.Fatalf("Next = %s, want %s", m.ID, v1Fresh)
	}
	if _, err := q.Record(m, []outcome.Outcome{{Rcpt: "fresh@example.net", Status: outcome.Delivered}}, Steps{}); err != nil {
		t.Fatal(err)
	}
	want := []string{v1Deferred + ".eml", v1Deferred + ".json"}
	if got := files(t, dir); !slices.Equal(got, want) {
		t.Errorf("files after delivering %s: %v, want %v", v1Fresh, got, want)
	}

	// The other is deferred again, and the new state survives a restart
	// in the earlier layout.
	clock.Advance(2 * time.Minute)
	m = nextNow(t, q)
	if _, err := q.Record(m, []outcome.Outcome{{Rcpt: "later@example.com", Status: outcome.Transient, Reply: "451 again"}}, Steps{}); err != nil {
		t.Fatal(err)
	}
	q.Close()
	q = mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery, Now: clock.Now})
	if got := files(t, dir); !slices.Equal(got, want) {
		t.Errorf("files after a state change: %v, want %v", got, want)
	}
	if m, err := q.Get(v1Deferred); err != nil || m.Rcpts[1].Attempts != 2 || m.Rcpts[1].LastReply != "451 again" {
		t.Fatalf("after restart: %+v %v, want 2 attempts", m, err)
	}

	// Then it fails for good: the bounce quotes it, and nothing is left.
	clock.Advance(time.Hour)
	m = nextNow(t, q)
	var quoted []byte
	_, err := q.Record(m, []outcome.Outcome{{Rcpt: "later@example.com", Status: outcome.Permanent, Reply: "550 no"}}, Steps{
		Bounce: func([]Change) error {
			rc, err := q.OpenRaw(m.ID)
			quoted = readAll(t, rc, err)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	eml, _ := os.ReadFile(filepath.Join("testdata", "queue-v1", v1Deferred+".eml"))
	if string(quoted) != string(eml) {
		t.Errorf("the bounce quoted %q, want the .eml", quoted)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("files after the bounce: %v", got)
	}
}

// TestEarlierVersionQueueDelete: queue delete removes an earlier version's
// message, both files, for good.
func TestEarlierVersionQueueDelete(t *testing.T) {
	dir := copyV1Queue(t)
	q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
	if err := q.Delete(v1Fresh); err != nil {
		t.Fatal(err)
	}
	if err := q.Retry(v1Deferred); err != nil {
		t.Fatal(err)
	}
	q.Close()
	q = mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
	if got := files(t, dir); !slices.Equal(got, []string{v1Deferred + ".eml", v1Deferred + ".json"}) {
		t.Errorf("files after Delete: %v", got)
	}
	if _, err := q.Get(v1Fresh); err == nil {
		t.Error("a deleted message came back")
	}
}
