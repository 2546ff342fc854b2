package dkim

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
)

// BenchmarkSign measures the whole path of one message: ReadHeader,
// NewSigner, the body through the signer, Sign. The body goes in 32 KiB
// writes, as through the submission server's buffered writer.
func BenchmarkSign(b *testing.B) {
	keySets := []struct {
		name string
		keys func(testing.TB) []Key
	}{
		{"rsa2048", func(tb testing.TB) []Key { return []Key{rsaTestKey(tb)} }},
		{"ed25519", func(tb testing.TB) []Key { return []Key{ed25519TestKey(tb)} }},
		{"both", func(tb testing.TB) []Key { return []Key{rsaTestKey(tb), ed25519TestKey(tb)} }},
	}
	sizes := []struct {
		name string
		n    int
	}{{"4KB", 4 << 10}, {"100KB", 100 << 10}}
	for _, ks := range keySets {
		keys := ks.keys(b)
		for _, size := range sizes {
			msg := []byte(testMessage + bodyOfSize(size.n))
			b.Run(ks.name+"/"+size.name, func(b *testing.B) {
				b.SetBytes(int64(len(msg)))
				b.ReportAllocs()
				for b.Loop() {
					br := bufio.NewReaderSize(bytes.NewReader(msg), 32<<10)
					h, err := ReadHeader(br, 0)
					if err != nil {
						b.Fatal(err)
					}
					s, err := NewSigner(keys, h)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.Copy(s, br); err != nil {
						b.Fatal(err)
					}
					if _, err := s.Sign(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// bodyOfSize returns a text body of about n bytes in lines of 76
// characters, like quoted-printable or base64 parts.
func bodyOfSize(n int) string {
	line := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 2)[:74] + "\r\n"
	return strings.Repeat(line, n/len(line)+1)[:n]
}
