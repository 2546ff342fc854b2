package dedup

import (
	"bufio"
	"io"
	"strings"
	"testing"

	"dkimrelay/dkim"
)

// keyWith fingerprints msg written in chunks of chunk bytes, the body kept
// in memory up to inline bytes (streamed to the walking goroutine past
// that).
func keyWith(t testing.TB, msg string, chunk, inline int) Key {
	br := bufio.NewReader(strings.NewReader(msg))
	h, err := dkim.ReadHeader(br, 0)
	if err != nil {
		t.Fatalf("a message the fuzz test let through: %v", err)
	}
	f := NewFingerprint(mention, h)
	if f.boundary != "" {
		f.limit = inline
	}
	body, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	for len(body) > 0 {
		n := min(chunk, len(body))
		f.Write(body[:n])
		body = body[n:]
	}
	return f.Sum()
}

// FuzzFingerprintInline holds the in-memory walk of a multipart body to
// the streaming one: the same Key whatever the body, the chunks it comes
// in and where the body outgrows memory.
func FuzzFingerprintInline(f *testing.F) {
	f.Add(alternative("b1", "1", "Hi", "Hello =C3=A9 there", "PGI+aGk8L2I+"), 7, 100)
	f.Add("Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\none\r\n", 3, 10)
	f.Add("Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\n\r\nin\r\n--c--\r\n--b--\r\n", 64, 0)
	f.Add("Subject: plain\r\n\r\nnot multipart\r\n", 1, 5)
	f.Fuzz(func(t *testing.T, msg string, chunk, inline int) {
		if _, err := dkim.ReadHeader(bufio.NewReader(strings.NewReader(msg)), 0); err != nil {
			return // the relay refuses it before any fingerprint
		}
		chunk = 1 + abs(chunk)%4096
		inline = abs(inline) % (len(msg) + 2)
		want := keyWith(t, msg, chunk, 0)
		if got := keyWith(t, msg, chunk, maxBuffered); got != want {
			t.Errorf("in memory: key %x, streamed %x", got, want)
		}
		if got := keyWith(t, msg, chunk, inline); got != want {
			t.Errorf("in memory up to %d bytes: key %x, streamed %x", inline, got, want)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// TestFingerprintInlineCloses checks that a multipart body kept in memory
// and abandoned gives its buffer back, and that the next message starts
// with an empty one.
func TestFingerprintInlineCloses(t *testing.T) {
	msg := alternative("b1", "1", "Hi", "Hello", "PGI+aGk8L2I+")
	want := keyWith(t, msg, 16, 0)
	br := bufio.NewReader(strings.NewReader(msg))
	h, err := dkim.ReadHeader(br, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFingerprint(mention, h)
	f.Write([]byte("--b1\r\nhalf"))
	f.Close()
	if f.buf != nil {
		t.Fatal("Close kept the body's buffer")
	}
	if got := keyWith(t, msg, 16, maxBuffered); got != want {
		t.Errorf("after an abandoned body: key %x, want %x", got, want)
	}
}
