package queue

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// splitMessageFile returns a committed <id>.msg's message bytes and the
// record of its trailer.
func splitMessageFile(t *testing.T, path string) (msg, rec []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rec, size, _, err := readTrailer(path, nil)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if size != int64(len(data)) {
		t.Fatalf("%s: readTrailer saw %d bytes, the file has %d", path, size, len(data))
	}
	end := len(data) - footerSize - len(rec)
	return data[:end], bytes.Clone(rec)
}

// rewriteTrailer replaces old by new in the record of the trailer of the
// message file at path, with a checksum that matches: a trailer as Commit
// would write it, holding what the test wants.
func rewriteTrailer(t *testing.T, path, old, new string) {
	t.Helper()
	msg, rec := splitMessageFile(t, path)
	if !bytes.Contains(rec, []byte(old)) {
		t.Fatalf("trailer of %s does not contain %s:\n%s", path, old, rec)
	}
	rec = bytes.Replace(rec, []byte(old), []byte(new), 1)
	out := append(bytes.Clone(msg), rec...)
	out = appendFooter(out, rec)
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeStateFile writes <id>.json as a state change of the committed
// single-file message id would: its trailer's record, changed by edit.
func writeStateFile(t *testing.T, dir, id string, edit func(r *record)) {
	t.Helper()
	_, data := splitMessageFile(t, filepath.Join(dir, id+".msg"))
	r, err := decodeRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(r)
	}
	out, err := encodeRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, id+".json"), out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeLegacy writes message id as the earlier versions committed it:
// the message in <id>.eml, the envelope in <id>.json.
func writeLegacy(t *testing.T, dir, id string, data []byte, env Envelope) {
	t.Helper()
	r, err := newRecord(id, env, int64(len(data)), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rec, err := encodeRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, id+".eml"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, id+".json"), rec, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestTrailerLayout pins the layout of a message file: the message bytes,
// the record, then the magic, the record's length and its CRC-32C.
func TestTrailerLayout(t *testing.T) {
	dir := queueDir(t)
	q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
	data := body("layout")
	id := commit(t, q, data, Envelope{From: "a@example.org", Rcpts: []string{"b@example.net"}, Signatures: []string{testSig}})
	file, err := os.ReadFile(filepath.Join(dir, id+".msg"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(file, data) {
		t.Fatalf("the message file does not start with the message")
	}
	rec := file[len(data) : len(file)-footerSize]
	r, err := decodeRecord(rec)
	if err != nil {
		t.Fatalf("the bytes between message and footer are no record: %v\n%q", err, rec)
	}
	if r.ID != id || r.Size != int64(len(data)) || !r.SingleFile || r.Signatures[0] != testSig {
		t.Errorf("trailer record %+v", r)
	}
	if want := appendFooter(nil, rec); !bytes.Equal(file[len(file)-footerSize:], want) {
		t.Errorf("footer %q, want %q", file[len(file)-footerSize:], want)
	}
	if !strings.HasPrefix(string(file[len(file)-footerSize:]), "dkrqtrl1") {
		t.Errorf("footer does not start with the magic")
	}
}

// TestReadTrailerRejects: every way a commit can be cut short, or a file
// that was never one, reads as errNoTrailer.
func TestReadTrailerRejects(t *testing.T) {
	dir := queueDir(t)
	q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
	data := bytes.Repeat([]byte("line of text\r\n"), 1000)
	id := commit(t, q, data, Envelope{Rcpts: []string{"b@example.net"}, Signatures: []string{testSig}})
	path := filepath.Join(dir, id+".msg")
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recLen := len(good) - len(data) - footerSize
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x20
		return b
	}
	tests := []struct {
		name string
		file []byte
	}{
		{"empty", nil},
		{"message only, no trailer", good[:len(data)]},
		{"record without footer", good[:len(good)-footerSize]},
		{"torn footer", good[:len(good)-3]},
		{"torn record", append(bytes.Clone(good[:len(data)+recLen/2]), good[len(good)-footerSize:]...)},
		{"checksum mismatch: record byte changed", flip(len(data) + recLen/2)},
		{"checksum mismatch: checksum changed", flip(len(good) - 1)},
		{"length larger than the file", flip(len(good) - 8)},
		{"magic changed", flip(len(good) - footerSize)},
		{"trailer zero-filled", append(bytes.Clone(good[:len(data)]), make([]byte, recLen+footerSize)...)},
		{"shorter than a footer", good[:footerSize-1]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), id+".msg")
			if err := os.WriteFile(p, tt.file, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, _, _, err := readTrailer(p, nil); !errors.Is(err, errNoTrailer) {
				t.Errorf("readTrailer = %v, want errNoTrailer", err)
			}
		})
	}
	rec, size, _, err := readTrailer(path, make([]byte, 0, 16))
	if err != nil || size != int64(len(good)) || len(rec) != recLen {
		t.Errorf("the intact file: %d record bytes, size %d, %v", len(rec), size, err)
	}
}

// TestReadTrailerLargeRecord: a record larger than the first read of the
// file's end (hundreds of recipients) is read whole.
func TestReadTrailerLargeRecord(t *testing.T) {
	dir := queueDir(t)
	q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
	var rcpts []string
	for i := range 600 {
		rcpts = append(rcpts, fmt.Sprintf("recipient-%04d@example.net", i))
	}
	id := commit(t, q, body("many"), Envelope{Rcpts: rcpts})
	q.Close()
	rec, _, _, err := readTrailer(filepath.Join(dir, id+".msg"), nil)
	if err != nil || len(rec) <= trailerRead {
		t.Fatalf("record of %d bytes, %v; want more than %d", len(rec), err, trailerRead)
	}
	q = mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
	m, err := q.Get(id)
	if err != nil || len(m.Rcpts) != len(rcpts) {
		t.Fatalf("after reopen: %v, want %d recipients", err, len(rcpts))
	}
}

// FuzzReadTrailer: whatever a message file holds, readTrailer never
// panics, and it accepts a file only if its record's checksum matches and
// the record lies within the file.
func FuzzReadTrailer(f *testing.F) {
	rec := []byte(`{"version":1,"id":"01JNFX2V8Q3ZK7M4W9PA"}`)
	f.Add(appendFooter(append([]byte("Subject: x\r\n\r\nbody\r\n"), rec...), rec))
	f.Add([]byte("dkrqtrl1\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte{})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "f.msg")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		got, size, _, err := readTrailer(path, nil)
		if err != nil {
			if !errors.Is(err, errNoTrailer) {
				t.Fatalf("readTrailer: %v, want errNoTrailer or nothing", err)
			}
			return
		}
		if size != int64(len(data)) || len(got)+footerSize > len(data) {
			t.Fatalf("record of %d bytes in a file of %d (size %d)", len(got), len(data), size)
		}
		end := len(data) - footerSize
		if !bytes.Equal(got, data[end-len(got):end]) || !bytes.Equal(appendFooter(nil, got), data[end:]) {
			t.Fatalf("accepted a trailer that is not the record before a matching footer")
		}
	})
}
