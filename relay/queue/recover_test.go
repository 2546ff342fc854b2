package queue

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"dkimrelay/internal/testkit"
	"dkimrelay/relay/outcome"
)

// TestRecoverAfterCrash leaves exactly the files a crash at each step of
// the commit protocol (and of the later state changes and removals) would
// leave and checks what Open makes of them: acknowledged messages are
// there, unacknowledged ones are gone, and so is every leftover file.
func TestRecoverAfterCrash(t *testing.T) {
	rcpt := Envelope{Rcpts: []string{"b@example.net"}, Signatures: []string{testSig}}
	// committed commits a message, closes q and returns the path of its
	// message file and its length without the trailer.
	committed := func(t *testing.T, q *Queue, dir, tag string) (id, path string, size int) {
		id = commit(t, q, body(tag), rcpt)
		q.Close()
		return id, filepath.Join(dir, id+".msg"), len(body(tag))
	}
	cut := func(t *testing.T, path string, size int64) {
		if err := os.Truncate(path, size); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		// crash builds the folder's state with q, which it may close to
		// manipulate files. It returns the files that must remain:
		// those of the acknowledged messages.
		crash func(t *testing.T, q *Queue, dir string) (kept []string)
	}{
		{"draft being written: .msg without trailer", func(t *testing.T, q *Queue, dir string) []string {
			d, err := q.NewDraft()
			if err != nil {
				t.Fatal(err)
			}
			d.Write(body("partial"))
			d.w.Flush()
			return nil
		}},
		{"empty draft", func(t *testing.T, q *Queue, dir string) []string {
			if _, err := q.NewDraft(); err != nil {
				t.Fatal(err)
			}
			return nil
		}},
		{"before the trailer: message bytes only", func(t *testing.T, q *Queue, dir string) []string {
			_, path, size := committed(t, q, dir, "no-trailer")
			cut(t, path, int64(size))
			return nil
		}},
		{"torn trailer: record cut", func(t *testing.T, q *Queue, dir string) []string {
			_, path, size := committed(t, q, dir, "torn-record")
			cut(t, path, int64(size+20))
			return nil
		}},
		{"torn trailer: footer cut", func(t *testing.T, q *Queue, dir string) []string {
			_, path, _ := committed(t, q, dir, "torn-footer")
			fi, _ := os.Stat(path)
			cut(t, path, fi.Size()-5)
			return nil
		}},
		{"trailer not on disk: zeros in its place", func(t *testing.T, q *Queue, dir string) []string {
			_, path, size := committed(t, q, dir, "zeros")
			data, _ := os.ReadFile(path)
			clear(data[size:])
			os.WriteFile(path, data, 0o600)
			return nil
		}},
		{"checksum mismatch", func(t *testing.T, q *Queue, dir string) []string {
			_, path, size := committed(t, q, dir, "checksum")
			data, _ := os.ReadFile(path)
			data[size+10] ^= 1
			os.WriteFile(path, data, 0o600)
			return nil
		}},
		{"committed: .msg with its trailer", func(t *testing.T, q *Queue, dir string) []string {
			id, _, _ := committed(t, q, dir, "full")
			return []string{id + ".msg"}
		}},
		{"state change before rename: .msg, .json and .json.tmp", func(t *testing.T, q *Queue, dir string) []string {
			id, _, _ := committed(t, q, dir, "rewrite")
			writeStateFile(t, dir, id, func(r *record) { r.Rcpts[0].State, r.Rcpts[0].Attempts = Deferred, 1 })
			old := filepath.Join(dir, id+".json")
			data, err := os.ReadFile(old)
			if err != nil {
				t.Fatal(err)
			}
			// A half-written new state.
			os.WriteFile(old+".tmp", data[:len(data)/2], 0o600)
			return []string{id + ".msg", id + ".json"}
		}},
		{"first state change before rename: .msg and .json.tmp", func(t *testing.T, q *Queue, dir string) []string {
			id, _, _ := committed(t, q, dir, "first-rewrite")
			writeStateFile(t, dir, id, nil)
			os.Rename(filepath.Join(dir, id+".json"), filepath.Join(dir, id+".json.tmp"))
			return []string{id + ".msg"}
		}},
		{"removal half done: .json without .msg", func(t *testing.T, q *Queue, dir string) []string {
			id, path, _ := committed(t, q, dir, "removed")
			writeStateFile(t, dir, id, func(r *record) { r.Rcpts[0].State, r.Rcpts[0].Attempts = Deferred, 1 })
			os.Remove(path)
			return nil
		}},
		{"all final, files not yet removed", func(t *testing.T, q *Queue, dir string) []string {
			id, _, _ := committed(t, q, dir, "final")
			writeStateFile(t, dir, id, func(r *record) { r.Rcpts[0].State, r.Rcpts[0].Attempts = Delivered, 1 })
			return nil
		}},
		{"earlier version, committed: .eml and .json", func(t *testing.T, q *Queue, dir string) []string {
			id := "01JNFX2V8Q3ZK7M4W9PA"
			writeLegacy(t, dir, id, body("legacy"), rcpt)
			return []string{id + ".eml", id + ".json"}
		}},
		{"earlier version, before rename: .eml and .json.tmp", func(t *testing.T, q *Queue, dir string) []string {
			id := "01JNFX2V8Q3ZK7M4W9PB"
			writeLegacy(t, dir, id, body("legacy-tmp"), rcpt)
			os.Rename(filepath.Join(dir, id+".json"), filepath.Join(dir, id+".json.tmp"))
			return nil
		}},
		{"earlier version, removal half done: .eml only", func(t *testing.T, q *Queue, dir string) []string {
			id := "01JNFX2V8Q3ZK7M4W9PC"
			writeLegacy(t, dir, id, body("legacy-removed"), rcpt)
			os.Remove(filepath.Join(dir, id+".json"))
			return nil
		}},
		{"earlier version, all final", func(t *testing.T, q *Queue, dir string) []string {
			id := "01JNFX2V8Q3ZK7M4W9PD"
			writeLegacy(t, dir, id, body("legacy-final"), rcpt)
			rewrite(t, filepath.Join(dir, id+".json"), `"queued"`, `"delivered"`)
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := queueDir(t)
			q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
			// A message committed before the crash, which must survive.
			before := commit(t, q, body("before"), rcpt)
			kept := append(tt.crash(t, q, dir), before+".msg")
			q.Close() // stands for the process dying: it only closes the folder

			logs := testkit.NewLogs(t)
			q = mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery, Logger: logs.Logger()})
			acked := map[string]bool{}
			for _, name := range kept {
				id, _, _ := strings.Cut(name, ".")
				acked[id] = true
			}
			for id := range acked {
				m, err := q.Get(id)
				if err != nil {
					t.Fatalf("acknowledged message %s lost: %v", id, err)
				}
				rc, err := q.OpenRaw(id)
				if raw := readAll(t, rc, err); int64(len(raw)) != m.Size || !bytes.HasPrefix(raw, []byte("From: ")) || !bytes.HasSuffix(raw, []byte("\r\n")) {
					t.Errorf("message %s: %d bytes, want %d", id, len(raw), m.Size)
				}
				rc, err = q.Open(m)
				if wire := readAll(t, rc, err); !bytes.HasPrefix(wire, []byte(testSig+"From: ")) || int64(len(wire)) != m.Size+int64(len(testSig)) {
					t.Errorf("message %s on the wire: %d bytes, want the signature and %d", id, len(wire), m.Size)
				}
			}
			slices.Sort(kept)
			if got := files(t, dir); !slices.Equal(got, kept) {
				t.Errorf("files after recovery: %v, want %v", got, kept)
			}
			if q.Len() != len(acked) {
				t.Errorf("Len = %d, want %d", q.Len(), len(acked))
			}
			if ev := logs.Events("queue_damaged"); len(ev) != 0 {
				t.Errorf("crash leftovers reported as damaged: %v", ev)
			}
		})
	}
}

// TestRecoverPrefersStateFile: a .json beside a .msg is a later state than
// the trailer's, and wins.
func TestRecoverPrefersStateFile(t *testing.T) {
	clock := newFakeClock()
	dir := queueDir(t)
	q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery, Now: clock.Now})
	id := commit(t, q, body("state"), Envelope{Rcpts: []string{"b@example.net", "c@example.net"}})
	m := nextNow(t, q)
	if _, err := q.Record(m, []outcome.Outcome{
		{Rcpt: "b@example.net", Status: outcome.Delivered},
		{Rcpt: "c@example.net", Status: outcome.Transient},
	}, Steps{}); err != nil {
		t.Fatal(err)
	}
	q.Close()
	if got := files(t, dir); !slices.Equal(got, []string{id + ".json", id + ".msg"}) {
		t.Fatalf("files after a state change: %v", got)
	}
	q = mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery, Now: clock.Now})
	m, err := q.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if m.Rcpts[0].State != Delivered || m.Rcpts[1].State != Deferred || m.Rcpts[1].Attempts != 1 {
		t.Errorf("after reopen: %+v %+v, want delivered and deferred", *m.Rcpts[0], *m.Rcpts[1])
	}
	// The last recipient delivered: both files go.
	clock.Advance(24 * time.Hour)
	m = nextNow(t, q)
	if _, err := q.Record(m, []outcome.Outcome{{Rcpt: "c@example.net", Status: outcome.Delivered}}, Steps{}); err != nil {
		t.Fatal(err)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("files after the last delivery: %v", got)
	}
}

func TestRecoverDamaged(t *testing.T) {
	rcpt := Envelope{Rcpts: []string{"b@example.net"}}
	msgPath := func(dir, id string) string { return filepath.Join(dir, id+".msg") }
	withState := func(t *testing.T, dir, id string) string {
		writeStateFile(t, dir, id, nil)
		return filepath.Join(dir, id+".json")
	}
	tests := []struct {
		name   string
		legacy bool // the message as an earlier version wrote it
		damage func(t *testing.T, dir, id string)
		reason string // part of the logged reason
	}{
		{"state file not JSON", false, func(t *testing.T, dir, id string) {
			os.WriteFile(withState(t, dir, id), []byte("{garbage"), 0o600)
		}, "not valid JSON"},
		{"state file with a bad state", false, func(t *testing.T, dir, id string) {
			rewrite(t, withState(t, dir, id), `"queued"`, `"lost"`)
		}, "unknown recipient state"},
		{"trailer with a bad state", false, func(t *testing.T, dir, id string) {
			rewriteTrailer(t, msgPath(dir, id), `"queued"`, `"lost"`)
		}, "unknown recipient state"},
		{"trailer of another version", false, func(t *testing.T, dir, id string) {
			rewriteTrailer(t, msgPath(dir, id), `"version":1`, `"version":7`)
		}, "version"},
		{"trailer of a message not single-file", false, func(t *testing.T, dir, id string) {
			rewriteTrailer(t, msgPath(dir, id), `,"single_file":true`, ``)
		}, "single_file"},
		{"trailer with the wrong size", false, func(t *testing.T, dir, id string) {
			rewriteTrailer(t, msgPath(dir, id), `"size":`, `"size":1`)
		}, "its trailer says"},
		{"message file truncated under its state file", false, func(t *testing.T, dir, id string) {
			withState(t, dir, id)
			os.Truncate(msgPath(dir, id), 10)
		}, "envelope says"},
		{"message file of another message", false, func(t *testing.T, dir, id string) {
			os.Rename(msgPath(dir, id), msgPath(dir, "01ARZ3NDEKTSV4RRFFQ6"))
		}, "names queue ID"},
		{"earlier version: not JSON", true, func(t *testing.T, dir, id string) {
			os.WriteFile(filepath.Join(dir, id+".json"), []byte("{garbage"), 0o600)
		}, "not valid JSON"},
		{"earlier version: message file missing", true, func(t *testing.T, dir, id string) {
			os.Remove(filepath.Join(dir, id+".eml"))
		}, "missing"},
		{"earlier version: message file truncated", true, func(t *testing.T, dir, id string) {
			os.Truncate(filepath.Join(dir, id+".eml"), 10)
		}, "envelope says"},
		{"earlier version: envelope of another message", true, func(t *testing.T, dir, id string) {
			other := "01ARZ3NDEKTSV4RRFFQ6"
			os.Rename(filepath.Join(dir, id+".eml"), filepath.Join(dir, other+".eml"))
			os.Rename(filepath.Join(dir, id+".json"), filepath.Join(dir, other+".json"))
		}, "names queue ID"},
		{"earlier version: wrong version", true, func(t *testing.T, dir, id string) {
			rewrite(t, filepath.Join(dir, id+".json"), `"version": 1`, `"version": 7`)
		}, "version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := queueDir(t)
			q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
			good := commit(t, q, body("good"), rcpt)
			bad := "01JNFX2V8Q3ZK7M4W9PA"
			if !tt.legacy {
				bad = commit(t, q, body("bad"), rcpt)
			}
			q.Close()
			if tt.legacy {
				writeLegacy(t, dir, bad, body("bad"), rcpt)
			}
			tt.damage(t, dir, bad)
			var damagedFiles []string
			for _, f := range files(t, dir) {
				if !strings.HasPrefix(f, good) {
					damagedFiles = append(damagedFiles, f)
				}
			}
			badID, _, _ := strings.Cut(damagedFiles[0], ".")

			logs := testkit.NewLogs(t)
			q = mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery, Logger: logs.Logger()})
			if _, err := q.Get(good); err != nil {
				t.Errorf("good message did not load: %v", err)
			}
			if _, err := q.Get(badID); !errors.Is(err, ErrNotFound) {
				t.Errorf("damaged message loaded: %v", err)
			}
			if got := files(t, dir); !slices.Equal(got, []string{good + ".msg"}) {
				t.Errorf("queue folder after Open: %v", got)
			}
			if got := files(t, filepath.Join(dir, damagedDir)); !slices.Equal(got, damagedFiles) {
				t.Errorf("damaged/ holds %v, want %v", got, damagedFiles)
			}
			ev := logs.Events("queue_damaged")
			if len(ev) != 1 || ev[0]["qid"] != badID || ev[0]["level"] != "ERROR" ||
				!strings.Contains(ev[0]["reason"].(string), tt.reason) {
				t.Errorf("queue_damaged events %v, want one for %s with reason containing %q", ev, badID, tt.reason)
			}
		})
	}
}

func TestRecoverIgnoresUnknownFiles(t *testing.T) {
	dir := queueDir(t)
	os.MkdirAll(dir, 0o700)
	for _, n := range []string{"README", "../x.json", "notanid.json"} {
		os.WriteFile(filepath.Join(dir, filepath.Base(n)), []byte("x"), 0o600)
	}
	logs := testkit.NewLogs(t)
	q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery, Logger: logs.Logger()})
	if q.Len() != 0 {
		t.Errorf("Len = %d", q.Len())
	}
	if got := files(t, dir); len(got) != 3 {
		t.Errorf("unknown files were touched: %v", got)
	}
	if ev := logs.Events("queue_unknown_file"); len(ev) != 3 {
		t.Errorf("queue_unknown_file events: %v", ev)
	}
}

func rewrite(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(old)) {
		t.Fatalf("%s does not contain %s:\n%s", path, old, data)
	}
	if err := os.WriteFile(path, bytes.Replace(data, []byte(old), []byte(new), 1), 0o600); err != nil {
		t.Fatal(err)
	}
}
