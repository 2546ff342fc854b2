package queue

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// SplitMessageFile reads back what a commit wrote, AppendMessageFile
// writes it again byte for byte, and a file with a damaged trailer is not
// split.
func TestMessageFileRoundTrip(t *testing.T) {
	dir := queueDir(t)
	q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
	data := body("split")
	id := commit(t, q, data, Envelope{From: "a@example.org", Rcpts: []string{"b@example.net"}})
	b, err := os.ReadFile(filepath.Join(dir, id+".msg"))
	if err != nil {
		t.Fatal(err)
	}
	msg, rec, ok := SplitMessageFile(b)
	if !ok || !bytes.Equal(msg, data) || !bytes.Contains(rec, []byte(id)) {
		t.Fatalf("split: ok %v, message %q, record %q", ok, msg, rec)
	}
	if again := AppendMessageFile(nil, msg, rec); !bytes.Equal(again, b) {
		t.Fatalf("written again:\n%q\nwant\n%q", again, b)
	}
	for _, damaged := range [][]byte{
		b[:len(b)-1],
		append(bytes.Clone(b[:len(b)-footerSize-2]), b[len(b)-footerSize-1:]...),
		append(bytes.Clone(msg), 'x'),
		nil,
	} {
		if _, _, ok := SplitMessageFile(damaged); ok {
			t.Errorf("split a damaged file: %q", damaged)
		}
	}
}
