package dkim

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadHeader checks that ReadHeader never panics, fails only with its
// documented errors, and that a header it accepts writes back byte for byte
// (plus the line ending and empty line of a truncated header), leaves the
// reader at the body, and can be signed and verified when it has a From.
// The seed corpus is testdata/fuzz/FuzzReadHeader plus the test messages.
func FuzzReadHeader(f *testing.F) {
	paths, _ := filepath.Glob("testdata/messages/*.eml")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(toCRLF(b))
	}
	key := ed25519TestKey(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		const max = 4096
		br := bufio.NewReaderSize(bytes.NewReader(data), 16)
		h, err := ReadHeader(br, max)
		if err != nil {
			if !errors.Is(err, ErrHeaderTooLarge) && !errors.Is(err, ErrMalformedHeader) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		body, _ := io.ReadAll(br)
		consumed := data[:len(data)-len(body)]
		if len(consumed) > max {
			t.Fatalf("accepted a %d-byte header over the %d-byte limit", len(consumed), max)
		}
		var out bytes.Buffer
		n, err := h.WriteTo(&out)
		if err != nil || int(n) != out.Len() || h.Len() != out.Len() {
			t.Fatalf("WriteTo = %d, %v; wrote %d, Len %d", n, err, out.Len(), h.Len())
		}
		if want := completeHeader(consumed); !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("header does not write back:\n got %q\nwant %q", out.Bytes(), want)
		}
		if len(body) > 0 && !bytes.HasSuffix(consumed, []byte("\r\n\r\n")) && !bytes.Equal(consumed, []byte("\r\n")) {
			t.Fatalf("stopped before the end of the header: consumed %q, left %q", consumed, body)
		}
		// Reparsing what was written gives the same fields.
		again, err := ReadHeader(bufio.NewReader(bytes.NewReader(out.Bytes())), max+4)
		if err != nil || len(again.fields) != len(h.fields) {
			t.Fatalf("written header does not reparse: %v", err)
		}
		for i := range h.fields {
			if again.fields[i] != h.fields[i] {
				t.Fatalf("field %d reparses as %q, was %q", i, again.fields[i].raw, h.fields[i].raw)
			}
		}
		if !h.Has("From") {
			return
		}
		s, err := NewSigner([]Key{key}, h)
		if errors.Is(err, ErrMalformedHeader) {
			return // too many signed fields
		}
		if err != nil {
			t.Fatal(err)
		}
		s.Write(body)
		sigs, err := s.Sign()
		if err != nil {
			t.Fatal(err)
		}
		// Verify only our signature: the input may carry DKIM-Signature
		// fields of its own.
		signed := append([]byte(sigs[0]), out.Bytes()...)
		signed = append(signed, body...)
		if v := verify(t, signed, key)[0]; v.Err != nil {
			t.Fatalf("signature does not verify: %v\n%q", v.Err, signed)
		}
	})
}
