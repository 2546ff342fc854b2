package bufpool

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestPool(t *testing.T) {
	// Each Get reads its own source, whether its buffer is new or
	// recycled.
	readers := New(func(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 64) })
	for _, s := range []string{"first", "second", "third"} {
		br := readers.Get(strings.NewReader(s))
		got, err := io.ReadAll(br)
		if err != nil || string(got) != s {
			t.Fatalf("read %q, %v; want %q", got, err, s)
		}
		if br.Size() != 64 {
			t.Errorf("buffer of %d bytes, want 64", br.Size())
		}
		readers.Put(br)
	}

	writers := New(func(w io.Writer) *bufio.Writer { return bufio.NewWriterSize(w, 64) })
	var a, b bytes.Buffer
	for _, dst := range []*bytes.Buffer{&a, &b} {
		bw := writers.Get(dst)
		bw.WriteString("hello")
		if err := bw.Flush(); err != nil {
			t.Fatal(err)
		}
		writers.Put(bw)
	}
	if a.String() != "hello" || b.String() != "hello" {
		t.Errorf("wrote %q and %q, want hello to each", a.String(), b.String())
	}
}
