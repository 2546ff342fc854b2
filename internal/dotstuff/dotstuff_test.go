package dotstuff

import (
	"bufio"
	"bytes"
	"errors"
	"net/textproto"
	"testing"
)

// stuffed is p written through Writer in pieces of at most chunk bytes.
func stuffed(p []byte, chunk int) []byte {
	var buf bytes.Buffer
	bw := bufio.NewWriterSize(&buf, 64)
	d := NewWriter(bw)
	for len(p) > 0 {
		n := min(chunk, len(p))
		d.Write(p[:n])
		p = p[n:]
	}
	d.Close()
	return buf.Bytes()
}

// reference is p written through net/textproto's DotWriter.
func reference(p []byte) []byte {
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	w := textproto.NewWriter(bw).DotWriter()
	w.Write(p)
	w.Close()
	return buf.Bytes()
}

var dotCases = []struct{ name, in, want string }{
	{"empty", "", "\r\n.\r\n"},
	{"one line", "Hello\r\n", "Hello\r\n.\r\n"},
	{"unterminated", "Hello", "Hello\r\n.\r\n"},
	{"leading dot", ".hidden\r\n", "..hidden\r\n.\r\n"},
	{"lone dot line", "a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n"},
	{"dot inside a line", "a.b\r\n", "a.b\r\n.\r\n"},
	{"bare LF", "a\nb\n", "a\r\nb\r\n.\r\n"},
	{"bare LF then dot", "a\n.b", "a\r\n..b\r\n.\r\n"},
	{"ends in CR", "a\r", "a\r\n.\r\n"},
	{"bare CR inside", "a\rb\r\n", "a\rb\r\n.\r\n"},
	{"empty lines", "\r\n\r\n", "\r\n\r\n.\r\n"},
}

func TestDotWriter(t *testing.T) {
	for _, tc := range dotCases {
		for _, chunk := range []int{1, 2, 3, 7, 1 << 20} {
			if got := stuffed([]byte(tc.in), chunk); string(got) != tc.want {
				t.Errorf("%s, pieces of %d: got %q, want %q", tc.name, chunk, got, tc.want)
			}
		}
		if ref := reference([]byte(tc.in)); string(ref) != tc.want {
			t.Errorf("%s: net/textproto writes %q, the table says %q", tc.name, ref, tc.want)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("connection reset") }

// An error of the connection is returned, not swallowed.
func TestDotWriterError(t *testing.T) {
	d := NewWriter(bufio.NewWriterSize(failWriter{}, 16))
	big := bytes.Repeat([]byte("0123456789\r\n"), 10)
	if _, err := d.Write(big); err == nil {
		t.Error("Write over a failing connection returned no error")
	}
	if err := d.Close(); err == nil {
		t.Error("Close over a failing connection returned no error")
	}
}

// FuzzDotWriter holds Writer to net/textproto's DotWriter byte for
// byte, however the message is cut into writes, for every message without
// a bare CR (after which DotWriter's state machine writes "\r\r\n" as
// "\r\r\r\n"; the spool never holds one).
func FuzzDotWriter(f *testing.F) {
	for _, tc := range dotCases {
		f.Add([]byte(tc.in), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		if hasBareCR(in) {
			return
		}
		want := reference(in)
		if got := stuffed(in, int(chunk)+1); !bytes.Equal(got, want) {
			t.Fatalf("pieces of %d:\n got %q\nwant %q", int(chunk)+1, got, want)
		}
	})
}

func hasBareCR(p []byte) bool {
	for i, c := range p {
		if c == '\r' && i+1 < len(p) && p[i+1] != '\n' {
			return true
		}
	}
	return false
}
