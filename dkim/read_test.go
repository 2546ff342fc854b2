package dkim

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadHeaderErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		max     int
		wantErr error
		wantMsg string
	}{
		{"too large", "From: a@example.org\r\nSubject: " + strings.Repeat("x", 100) + "\r\n\r\n", 64, ErrHeaderTooLarge, "limit is 64 bytes"},
		{"too large single line without LF", "Subject: " + strings.Repeat("x", 10000), 5000, ErrHeaderTooLarge, "5000"},
		{"empty line over the limit", "Subject: x\r\n\r\nbody", 12, ErrHeaderTooLarge, ""},
		{"default limit", "X: " + strings.Repeat("y", DefaultMaxHeaderBytes), 0, ErrHeaderTooLarge, ""},
		{"no colon", "From: a@example.org\r\nnot a field\r\n\r\n", 0, ErrMalformedHeader, "line 2: header line has no colon"},
		{"mbox From_ line", "From alice@example.org Thu Nov 26 07:06:00 2026\r\nFrom: a@example.org\r\n\r\n", 0, ErrMalformedHeader, "line 1: field name \"From alice@example.org Thu Nov 26 07\" contains a space"},
		{"continuation first", " folded: x\r\nFrom: a@example.org\r\n\r\n", 0, ErrMalformedHeader, "line 1: the header starts with a continuation line"},
		{"tab continuation first", "\tx\r\n\r\n", 0, ErrMalformedHeader, "starts with a continuation line"},
		{"space before colon", "Subject : x\r\n\r\n", 0, ErrMalformedHeader, "contains a space"},
		{"empty name", ": x\r\n\r\n", 0, ErrMalformedHeader, "empty field name"},
		{"non-ASCII name", "Sübject: x\r\n\r\n", 0, ErrMalformedHeader, "byte 0xC3"},
		{"control in name", "Sub\x01ject: x\r\n\r\n", 0, ErrMalformedHeader, "byte 0x01"},
		{"bare LF", "From: a@example.org\nSubject: x\r\n\r\n", 0, ErrMalformedHeader, "line 1: line ends with a bare LF"},
		{"bare LF empty line", "From: a@example.org\r\n\n\r\n", 0, ErrMalformedHeader, "line 2: line ends with a bare LF"},
		{"bare CR", "From: a@example.org\r\nSubject: a\rb\r\n\r\n", 0, ErrMalformedHeader, "line 2: bare CR at byte 11"},
		{"CR before CRLF", "Subject: a\r\r\n\r\n", 0, ErrMalformedHeader, "bare CR"},
		{"NUL", "Subject: a\x00b\r\n\r\n", 0, ErrMalformedHeader, "NUL"},
		{"whitespace-only continuation", "Subject: a\r\n   \r\n b\r\n\r\n", 0, ErrMalformedHeader, "line 2: continuation line of only white space"},
		{"bare CR at end of input", "Subject: a\r", 0, ErrMalformedHeader, "bare CR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			max := tt.max
			h, err := ReadHeader(bufio.NewReaderSize(strings.NewReader(tt.in), 16), max)
			if err == nil {
				t.Fatalf("ReadHeader succeeded: %d fields", len(h.fields))
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error %q does not wrap %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
		})
	}
}

func TestReadHeaderLimitIsInclusive(t *testing.T) {
	in := "Subject: x\r\n\r\n" // 14 bytes
	if _, err := ReadHeader(bufio.NewReader(strings.NewReader(in+"body")), len(in)); err != nil {
		t.Errorf("a header of exactly the limit: %v", err)
	}
	if _, err := ReadHeader(bufio.NewReader(strings.NewReader(in)), len(in)-1); !errors.Is(err, ErrHeaderTooLarge) {
		t.Errorf("a header one byte over the limit: %v, want ErrHeaderTooLarge", err)
	}
}

func TestReadHeaderReadError(t *testing.T) {
	boom := errors.New("connection reset")
	r := io.MultiReader(strings.NewReader("From: a@example.org\r\nSubj"), iotest.ErrReader(boom))
	_, err := ReadHeader(bufio.NewReader(r), 0)
	if !errors.Is(err, boom) || errors.Is(err, ErrMalformedHeader) {
		t.Errorf("ReadHeader = %v, want the read error wrapped", err)
	}
}

// TestReadHeaderPosition checks that ReadHeader stops right after the empty
// line, with the body left in the reader, whatever the buffer size, and that
// the header writes back byte for byte.
func TestReadHeaderPosition(t *testing.T) {
	header := "From: a@example.org\r\nSubject: a long subject\r\n folded\r\nX-Long: " +
		strings.Repeat("z", 300) + "\r\n\r\n"
	body := "\r\nbody starts with an empty line\r\nFrom: not a header\r\n"
	for _, size := range []int{16, 64, 4096} {
		br := bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(header+body)), size)
		h, err := ReadHeader(br, 0)
		if err != nil {
			t.Fatalf("buffer %d: %v", size, err)
		}
		rest, _ := io.ReadAll(br)
		if string(rest) != body {
			t.Errorf("buffer %d: body left = %q, want %q", size, rest, body)
		}
		var out bytes.Buffer
		n, err := h.WriteTo(&out)
		if err != nil || out.String() != header || int(n) != len(header) || h.Len() != len(header) {
			t.Errorf("buffer %d: WriteTo = %q (%d, Len %d), %v; want %q", size, out.String(), n, h.Len(), err, header)
		}
	}
}

func TestReadHeaderNoBody(t *testing.T) {
	tests := []struct {
		in, out string
		fields  int
	}{
		{"", "\r\n", 0},
		{"\r\n", "\r\n", 0},
		{"From: a@example.org\r\n", "From: a@example.org\r\n\r\n", 1},
		{"From: a@example.org\r\n\r\n", "From: a@example.org\r\n\r\n", 1},
		{"From: a@example.org", "From: a@example.org\r\n\r\n", 1},
		{"From: a@example.org\r\n folded", "From: a@example.org\r\n folded\r\n\r\n", 1},
	}
	for _, tt := range tests {
		h, err := ReadHeader(bufio.NewReader(strings.NewReader(tt.in)), 0)
		if err != nil {
			t.Errorf("ReadHeader(%q): %v", tt.in, err)
			continue
		}
		var out bytes.Buffer
		h.WriteTo(&out)
		if out.String() != tt.out || len(h.fields) != tt.fields {
			t.Errorf("ReadHeader(%q) writes %q with %d fields, want %q with %d", tt.in, out.String(), len(h.fields), tt.out, tt.fields)
		}
	}
}
