package dedup

import (
	"bufio"
	"encoding/hex"
	"strings"
	"testing"

	"dkimrelay/dkim"
)

// TestKeysStable pins the Keys of two messages: the duplicate index on
// disk outlives an upgrade, so a retry must keep the Key it had.
func TestKeysStable(t *testing.T) {
	tests := []struct {
		name, msg, key string
	}{
		{
			"quoted-printable and base64",
			alternative("==_mimepart_x", "a", "Mention",
				strings.Repeat("Zo=C3=AB hat Sie erw=C3=A4hnt lorem ipsum dolor sit amet \r\n", 30)+"soft=\r\nend",
				strings.Repeat("PHA+Wm/DqyBoYXQgU2llIGVyd8OkaG50PC9wPg==\r\n", 30)),
			"21411b6dacda7744c53174ec34c1c550695168b7cf579cc39c06175acff90a11",
		},
		{
			"invalid quoted-printable",
			alternative("b", "a", "x", "bad \x01 byte=\r\n", "PHA+\r\n"),
			"9d8042bb9cc3f3d2e9e5df2d080900f82c67f4461614bdad0fcb592cce020f77",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tt.msg))
			h, err := dkim.ReadHeader(br, 0)
			if err != nil {
				t.Fatal(err)
			}
			f := NewFingerprint(mention, h)
			f.Write([]byte(tt.msg[h.Len():]))
			k := f.Sum()
			if got := hex.EncodeToString(k[:]); got != tt.key {
				t.Errorf("Key = %s, want %s", got, tt.key)
			}
		})
	}
}
