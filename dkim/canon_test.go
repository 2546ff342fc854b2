package dkim

import (
	"testing"
)

// TestBodyCanonicalization checks, through bh=, which bodies relaxed body
// canonicalization (RFC 6376 section 3.4.4) treats as the same: white space
// runs, trailing white space and trailing empty lines do not count; text,
// line breaks inside the text and leading white space do.
func TestBodyCanonicalization(t *testing.T) {
	key := ed25519TestKey(t)
	const header = "From: a@example.org\r\nSubject: canonical\r\n\r\n"
	bodyHash := func(body string) string {
		_, sigs, _ := signMessage(t, []Key{key}, []byte(header+body))
		return sigTags(t, sigs[0])["bh"]
	}
	tests := []struct {
		a, b string
		same bool
	}{
		{"Text.\r\n", "Text.\r\n\r\n\r\n", true},
		{"Text.\r\n", "Text.", true},
		{"Text.\r\n", "Text.   \r\n", true},
		{"Text.\r\n", "Text.\t\r\n \r\n\t\r\n", true},
		{"a b\r\n", "a  \t  b\r\n", true},
		{"", "\r\n\r\n", true},
		{"", "   \r\n\t\r\n", true}, // lines of white space become empty lines, then go
		{"a b\r\n", "ab\r\n", false},
		{"a\r\n", " a\r\n", false},
		{"a\r\nb\r\n", "a b\r\n", false},
		{"Text.\r\n", "Text!\r\n", false},
		{".\r\n", "..\r\n", false},
	}
	for _, tt := range tests {
		ha, hb := bodyHash(tt.a), bodyHash(tt.b)
		if (ha == hb) != tt.same {
			t.Errorf("bh(%q) = %s, bh(%q) = %s; want same=%v", tt.a, ha, tt.b, hb, tt.same)
		}
	}
	// The empty body's hash is that of the empty string (RFC 6376 section
	// 3.4.4), as in no-body.golden.
	if got, want := bodyHash(""), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; got != want {
		t.Errorf("bh of the empty body = %s, want %s", got, want)
	}
}
