package dedup

import (
	"bufio"
	"strings"
	"testing"

	"dkimrelay/dkim"
)

// BenchmarkFingerprint is the cost the duplicate window adds to a
// Mastodon-sized multipart notification.
func BenchmarkFingerprint(b *testing.B) {
	msg := alternative("==_mimepart_x", "a", "Mention", strings.Repeat("Zo=C3=AB hat Sie erw=C3=A4hnt lorem ipsum dolor sit amet\r\n", 30), strings.Repeat("PHA+Wm/DqyBoYXQgU2llIGVyd8OkaG50PC9wPg==\r\n", 30))
	br := bufio.NewReader(strings.NewReader(msg))
	h, _ := dkim.ReadHeader(br, 0)
	body := []byte(msg[h.Len():])
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		f := NewFingerprint(mention, h)
		f.Write(body)
		f.Sum()
	}
}
