package submission

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"dkimrelay/internal/dotstuff"
)

// lenientEnds are the ends of DATA that some receiver or other has been
// found to accept (the SMTP smuggling papers of 2023): a message must not
// contain any of them before its real end, or that receiver reads a
// second message in it.
var lenientEnds = []string{"\r\n.\r\n", "\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r.\n", "\n.\r", "\r.\r\n"}

// encodeData is the message as delivery sends it after DATA: copied from
// the spool through the egress writer (internal/dotstuff), in the pieces
// a slow reader gives, and ended by the final dot.
func encodeData(t *testing.T, msg []byte) []byte {
	var buf bytes.Buffer
	w := dotstuff.NewWriter(bufio.NewWriter(&buf))
	if _, err := io.Copy(w, iotest.HalfReader(bytes.NewReader(msg))); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// decodeData is RFC 5321 section 4.5.2 read strictly: lines end with
// CRLF, a line "." ends the message, a leading dot is removed.
func decodeData(b []byte) (msg []byte, rest []byte, ok bool) {
	var out bytes.Buffer
	for {
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			return nil, nil, false
		}
		line := b[:i]
		b = b[i+2:]
		if string(line) == "." {
			return out.Bytes(), b, true
		}
		line = bytes.TrimPrefix(line, []byte("."))
		out.Write(line)
		out.WriteString("\r\n")
	}
}

// FuzzEgressDots: a message the strict DATA reader accepts goes out to the
// next hop as exactly one message, whatever that hop's idea of the end of
// DATA: after dot-stuffing, no lenient end occurs before the real one, and
// a strict reader gets the message back byte for byte.
func FuzzEgressDots(f *testing.F) {
	for _, s := range []string{
		"Subject: a\r\n\r\nbody\r\n",
		"a\r\n.\r\nMAIL FROM:<x@y>\r\n",
		"a\r\n..\r\n.\r\n",
		".leading dot\r\n",
		"a\n.\nb\r\n",
		"a\r.\rb\r\n",
		"a\n.\r\nb\r\n",
		"no final line break",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		msg, err := io.ReadAll(newStrictReader(iotest.HalfReader(bytes.NewReader(in))))
		if err != nil {
			return // refused: nothing goes out
		}
		wire := encodeData(t, msg)
		end := len(wire) - len(".\r\n")
		for _, le := range lenientEnds {
			// A lenient end whose dot is the final dot is the real end.
			if i := strings.Index(string(wire), le); i >= 0 && i+strings.IndexByte(le, '.') < end {
				t.Fatalf("%q goes out as %q, which holds %q before its end", in, wire, le)
			}
		}
		back, rest, ok := decodeData(wire)
		if !ok || len(rest) != 0 {
			t.Fatalf("%q goes out as %q, which does not end once", in, wire)
		}
		want := msg
		if !bytes.HasSuffix(want, []byte("\r\n")) {
			// The egress writer ends the last line, even an empty one.
			want = append(append([]byte(nil), want...), "\r\n"...)
		}
		if !bytes.Equal(back, want) {
			t.Fatalf("%q reads back as %q", msg, back)
		}
	})
}
