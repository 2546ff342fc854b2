package submission

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestStrictReader(t *testing.T) {
	long := strings.Repeat("x", 998)
	cases := []struct {
		name string
		in   string
		want error
	}{
		{"plain", "Subject: a\r\n\r\nbody\r\n", nil},
		{"empty", "", nil},
		{"998 characters", long + "\r\n", nil},
		{"999 characters", long + "x\r\n", errLongLine},
		{"bare LF", "Subject: a\r\n\r\nline\nmore\r\n", errBareLF},
		{"LF dot LF", "a\r\n\n.\n\r\nMAIL FROM:<x@y>\r\n", errBareLF},
		{"bare CR", "a\rb\r\n", errBareCR},
		{"CR dot CR", "a\r\n\r.\r\r\n", errBareCR},
		{"LF dot CRLF", "a\n.\r\n", errBareLF},
		{"trailing CR", "a\r\nb\r", errBareCR},
		{"NUL", "a\x00b\r\n", errNUL},
		{"8-bit is fine", "Subject: caf\xc3\xa9\r\n\r\n\xff\xfe\r\n", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// One byte at a time as well as whole: state must carry over
			// between reads.
			for _, r := range []io.Reader{strings.NewReader(tc.in), iotest.OneByteReader(strings.NewReader(tc.in))} {
				out, err := io.ReadAll(newStrictReader(r))
				if !errors.Is(err, tc.want) && err != tc.want {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				if tc.want == nil && string(out) != tc.in {
					t.Fatalf("output changed: %q", out)
				}
			}
		})
	}
}

// referenceCheck is the byte-at-a-time statement of strictReader's rules:
// the first offending byte's offset and reply, or -1 and nil.
func referenceCheck(in []byte) (int, error) {
	prevCR, line := false, 0
	for i, c := range in {
		if prevCR {
			prevCR = false
			if c != '\n' {
				return i, errBareCR
			}
			line = 0
			continue
		}
		switch c {
		case '\r':
			prevCR = true
		case '\n':
			return i, errBareLF
		case 0:
			return i, errNUL
		default:
			line++
			if line > maxLineLength {
				return i, errLongLine
			}
		}
	}
	if prevCR {
		return len(in), errBareCR
	}
	return -1, nil
}

func FuzzStrictReader(f *testing.F) {
	long := strings.Repeat("y", 997)
	for _, s := range []string{"a\r\n", "a\nb", "a\rb", "\r\n.\r\n", "x\x00", long + "x\n", long + "x\x00", long + "xx\r\n", long + "\r\n" + long + "z\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		// The verdict, and where it falls, must not depend on how the
		// stream is cut into reads.
		wantAt, want := referenceCheck(in)
		for _, chunk := range []int{1, 3, 64, len(in) + 1} {
			out, err := io.ReadAll(newStrictReader(&pieces{in, chunk}))
			if err != want {
				t.Fatalf("pieces of %d: err = %v, the byte-wise rules say %v (at %d)", chunk, err, want, wantAt)
			}
			if want != nil && wantAt < len(in) && len(out) != wantAt {
				t.Fatalf("pieces of %d: passed %d bytes before the refusal, want %d", chunk, len(out), wantAt)
			}
			if err == nil && string(out) != string(in) {
				t.Fatal("accepted input was changed")
			}
		}
		if want == nil {
			s := string(in)
			if strings.Contains(strings.ReplaceAll(s, "\r\n", ""), "\n") || strings.Contains(strings.ReplaceAll(s, "\r\n", ""), "\r") || strings.Contains(s, "\x00") {
				t.Fatalf("accepted a bare CR/LF or NUL: %q", in)
			}
		}
	})
}

// pieces reads p at most n bytes at a time.
type pieces struct {
	p []byte
	n int
}

func (r *pieces) Read(b []byte) (int, error) {
	if len(r.p) == 0 {
		return 0, io.EOF
	}
	k := copy(b[:min(len(b), r.n)], r.p)
	r.p = r.p[k:]
	return k, nil
}

func TestLoginServer(t *testing.T) {
	var gotUser, gotPass string
	auth := func(u, p string) error { gotUser, gotPass = u, p; return nil }
	// Without an initial response: two prompts.
	s := newLoginServer(auth)
	ch, done, err := s.Next(nil)
	if string(ch) != "Username:" || done || err != nil {
		t.Fatalf("first step: %q %v %v", ch, done, err)
	}
	ch, done, _ = s.Next([]byte("alice"))
	if string(ch) != "Password:" || done {
		t.Fatalf("second step: %q %v", ch, done)
	}
	_, done, err = s.Next([]byte("secret"))
	if !done || err != nil || gotUser != "alice" || gotPass != "secret" {
		t.Fatalf("final: %v %v %q %q", done, err, gotUser, gotPass)
	}
	if _, _, err := s.Next([]byte("more")); err == nil {
		t.Error("a step after the end must fail")
	}
	// With the user name as initial response.
	s = newLoginServer(auth)
	ch, _, _ = s.Next([]byte("bob"))
	if string(ch) != "Password:" {
		t.Fatalf("initial response: %q", ch)
	}
	s.Next([]byte("pw"))
	if gotUser != "bob" || gotPass != "pw" {
		t.Errorf("got %q %q", gotUser, gotPass)
	}
}
