package dedup

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"hash"
	"io"
	"mime/quotedprintable"
	"strings"
	"testing"
)

// recorder is a hash.Hash that keeps what is written to it.
type recorder struct {
	hash.Hash
	buf bytes.Buffer
}

func (r *recorder) Write(p []byte) (int, error) { return r.buf.Write(p) }

// decoding is what a quoted-printable decoder made of some content.
type decoding struct {
	out []byte
	n   int64 // the count returned, for hashQP
	err error
}

// qpBoth decodes s with hashQP and with mime/quotedprintable.
func qpBoth(s string) (got, want decoding) {
	rec := &recorder{Hash: sha256.New()}
	got.n, got.err = hashQP(bufio.NewReaderSize(strings.NewReader(s), qpLine), rec, make([]byte, 0, 4<<10))
	got.out = rec.buf.Bytes()
	var std bytes.Buffer
	_, want.err = io.Copy(&std, quotedprintable.NewReader(strings.NewReader(s)))
	want.out = std.Bytes()
	return got, want
}

// same says whether hashQP decoded as mime/quotedprintable did.
func same(got, want decoding) bool {
	return bytes.Equal(got.out, want.out) && (got.err == nil) == (want.err == nil)
}

var qpSeeds = []string{
	"",
	"plain text\r\n",
	"Zo=C3=AB hat Sie erw=C3=A4hnt\r\nline two\r\n",
	"soft=\r\nbreak=\nand end=",
	"trailing spaces   \r\nand tabs\t\t\n",
	"literal = sign and =ZZ and =4\r\n",
	"bad after soft= x\r\n",
	"lower =c3=ab hex\r\n",
	"control \x01 byte\r\n",
	"del \x7f byte\r\n",
	"high \xc3\xa9 bytes\r\n",
	"=\r\n",
	"==\r\n",
	"a==\r\n",
	"=\rX\n",
	"bare\rCR and bare\nLF",
	"   \r\n\r\n\n",
	"no final newline =41",
	"end with soft=",
	"=",
	"a=",
	"x=\t \r\n",
	strings.Repeat("a", qpLine+10) + "\r\n",
	strings.Repeat("a", qpLine-2) + "=\r\n" + strings.Repeat("b", 100),
	strings.Repeat("=41", 2000) + "\r\n",
	strings.Repeat("<p>alice favourited your post: <a href=3D\"https://example.org/\">Hello</a></p>\r\n", 60),
}

// TestHashQPAsStdlib holds hashQP to mime/quotedprintable: the same
// bytes, and an error where it fails, after the same bytes.
func TestHashQPAsStdlib(t *testing.T) {
	for _, s := range qpSeeds {
		got, want := qpBoth(s)
		if !same(got, want) {
			t.Errorf("%.60q:\n hashQP %q, %v\n stdlib %q, %v", s, got.out, got.err, want.out, want.err)
		}
		if got.n != int64(len(got.out)) {
			t.Errorf("%.60q: hashQP counted %d bytes, wrote %d", s, got.n, len(got.out))
		}
	}
}

func FuzzHashQP(f *testing.F) {
	for _, s := range qpSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, want := qpBoth(s)
		if !same(got, want) {
			t.Errorf("%q:\n hashQP %q, %v\n stdlib %q, %v", s, got.out, got.err, want.out, want.err)
		}
	})
}
