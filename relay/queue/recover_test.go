package queue

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dkimrelay/internal/testkit"
)

// TestRecoverAfterCrash leaves exactly the files a crash at each step of
// the commit protocol would leave and checks what Open makes of them:
// acknowledged messages are there, unacknowledged ones are gone, and so
// is every leftover file.
func TestRecoverAfterCrash(t *testing.T) {
	rcpt := Envelope{Rcpts: []string{"b@example.net"}}
	tests := []struct {
		name string
		// crash builds the folder's state with q, which it may close to
		// manipulate files. It returns the acknowledged IDs.
		crash func(t *testing.T, q *Queue, dir string) (acked []string)
	}{
		{"draft being written: .eml only", func(t *testing.T, q *Queue, dir string) []string {
			d, err := q.NewDraft()
			if err != nil {
				t.Fatal(err)
			}
			d.Write(body("partial"))
			d.w.Flush()
			return nil
		}},
		{"empty draft: .eml only", func(t *testing.T, q *Queue, dir string) []string {
			if _, err := q.NewDraft(); err != nil {
				t.Fatal(err)
			}
			return nil
		}},
		{"before rename: .eml and .json.tmp", func(t *testing.T, q *Queue, dir string) []string {
			id := commit(t, q, body("tmp"), rcpt)
			q.Close()
			if err := os.Rename(filepath.Join(dir, id+".json"), filepath.Join(dir, id+".json.tmp")); err != nil {
				t.Fatal(err)
			}
			return nil
		}},
		{"committed: .eml and .json", func(t *testing.T, q *Queue, dir string) []string {
			return []string{commit(t, q, body("full"), rcpt)}
		}},
		{"state change before rename: .json and .json.tmp", func(t *testing.T, q *Queue, dir string) []string {
			id := commit(t, q, body("rewrite"), rcpt)
			q.Close()
			old := filepath.Join(dir, id+".json")
			data, err := os.ReadFile(old)
			if err != nil {
				t.Fatal(err)
			}
			// A half-written new state.
			os.WriteFile(old+".tmp", data[:len(data)/2], 0o600)
			return []string{id}
		}},
		{"removal half done: .eml only", func(t *testing.T, q *Queue, dir string) []string {
			id := commit(t, q, body("removed"), rcpt)
			q.Close()
			os.Remove(filepath.Join(dir, id+".json"))
			return nil
		}},
		{"all final, files not yet removed", func(t *testing.T, q *Queue, dir string) []string {
			id := commit(t, q, body("final"), rcpt)
			q.Close()
			p := filepath.Join(dir, id+".json")
			data, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.Replace(data, []byte(`"queued"`), []byte(`"delivered"`), 1), 0o600)
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := queueDir(t)
			q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
			// A message committed before the crash, which must survive.
			before := commit(t, q, body("before"), rcpt)
			acked := append(tt.crash(t, q, dir), before)
			q.Close() // stands for the process dying: it only closes the folder

			logs := testkit.NewLogs(t)
			q = mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery, Logger: logs.Logger()})
			var want []string
			for _, id := range acked {
				want = append(want, id+".eml", id+".json")
				m, err := q.Get(id)
				if err != nil {
					t.Fatalf("acknowledged message %s lost: %v", id, err)
				}
				rc, err := q.OpenRaw(id)
				if raw := readAll(t, rc, err); int64(len(raw)) != m.Size || !bytes.HasPrefix(raw, []byte("From: ")) {
					t.Errorf("message %s: %d bytes, want %d", id, len(raw), m.Size)
				}
			}
			slices.Sort(want)
			if got := files(t, dir); !slices.Equal(got, want) {
				t.Errorf("files after recovery: %v, want %v", got, want)
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

func TestRecoverDamaged(t *testing.T) {
	rcpt := Envelope{Rcpts: []string{"b@example.net"}}
	tests := []struct {
		name   string
		damage func(t *testing.T, dir, id string)
		reason string // part of the logged reason
	}{
		{"not JSON", func(t *testing.T, dir, id string) {
			os.WriteFile(filepath.Join(dir, id+".json"), []byte("{garbage"), 0o600)
		}, "not valid JSON"},
		{"bad state", func(t *testing.T, dir, id string) {
			rewrite(t, filepath.Join(dir, id+".json"), `"queued"`, `"lost"`)
		}, "unknown recipient state"},
		{"message file missing", func(t *testing.T, dir, id string) {
			os.Remove(filepath.Join(dir, id+".eml"))
		}, "missing"},
		{"message file truncated", func(t *testing.T, dir, id string) {
			os.Truncate(filepath.Join(dir, id+".eml"), 10)
		}, "envelope says"},
		{"envelope of another message", func(t *testing.T, dir, id string) {
			other := "01ARZ3NDEKTSV4RRFFQ6"
			os.Rename(filepath.Join(dir, id+".eml"), filepath.Join(dir, other+".eml"))
			os.Rename(filepath.Join(dir, id+".json"), filepath.Join(dir, other+".json"))
		}, "names queue ID"},
		{"wrong version", func(t *testing.T, dir, id string) {
			rewrite(t, filepath.Join(dir, id+".json"), `"version": 1`, `"version": 7`)
		}, "version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := queueDir(t)
			q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
			good := commit(t, q, body("good"), rcpt)
			bad := commit(t, q, body("bad"), rcpt)
			q.Close()
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
			if got := files(t, dir); !slices.Equal(got, []string{good + ".eml", good + ".json"}) {
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
