package dkim

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestZoneRecord(t *testing.T) {
	ed, err := RecordValue(testEd25519Key(t).Public())
	if err != nil {
		t.Fatal(err)
	}
	rsa2048, err := RecordValue(testRSAKey(t).Public())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, selector, domain, value string
		want                          string // exact output, when given
		strings                       int    // number of character-strings
	}{
		{name: "short", selector: "s1", domain: "example.org", value: "v=DKIM1; k=ed25519; p=AAAA",
			want: `s1._domainkey.example.org. IN TXT "v=DKIM1; k=ed25519; p=AAAA"`, strings: 1},
		{name: "ed25519", selector: "e", domain: "example.org.", value: ed, strings: 1},
		{name: "rsa2048", selector: "s202611r", domain: "example.org", value: rsa2048, strings: 3},
		{name: "rsa4096-sized", selector: "big", domain: "mail.example.org", value: "v=DKIM1; k=rsa; p=" + strings.Repeat("A", 736), strings: 4},
		{name: "exactly 255", selector: "x", domain: "example.org", value: strings.Repeat("p", 255), strings: 1},
		{name: "256 without p=", selector: "x", domain: "example.org", value: strings.Repeat("q", 256),
			want: `x._domainkey.example.org. IN TXT ( "` + strings.Repeat("q", 255) + `" "q" )`, strings: 2},
		{name: "quotes and backslashes", selector: "x", domain: "example.org", value: `n="a\b"; p=`,
			want: `x._domainkey.example.org. IN TXT "n=\"a\\b\"; p="`, strings: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ZoneRecord(tt.selector, tt.domain, tt.value)
			if tt.want != "" && got != tt.want {
				t.Errorf("ZoneRecord =\n%s\nwant\n%s", got, tt.want)
			}
			if strings.Contains(got, "\n") {
				t.Errorf("ZoneRecord spans lines: %q", got)
			}
			// An independent zone file parser must read back the name and
			// the value, in strings of at most 255 bytes.
			rr, err := dns.NewRR(got)
			if err != nil {
				t.Fatalf("miekg/dns cannot parse %q: %v", got, err)
			}
			txt, ok := rr.(*dns.TXT)
			if !ok {
				t.Fatalf("parsed as %T", rr)
			}
			wantName := tt.selector + "._domainkey." + strings.TrimSuffix(tt.domain, ".") + "."
			if txt.Hdr.Name != wantName || txt.Hdr.Class != dns.ClassINET {
				t.Errorf("name %q class %d, want %q IN", txt.Hdr.Name, txt.Hdr.Class, wantName)
			}
			if len(txt.Txt) != tt.strings {
				t.Errorf("%d strings, want %d: %s", len(txt.Txt), tt.strings, got)
			}
			joined := ""
			for _, s := range txt.Txt {
				// miekg/dns keeps zone-file escapes in Txt.
				u := strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(s)
				if len(u) > maxCharString {
					t.Errorf("a string of %d bytes", len(u))
				}
				joined += u
			}
			if joined != tt.value {
				t.Errorf("strings join to %q, want %q", joined, tt.value)
			}
			if strings.Contains(tt.value, "; p=") && len(tt.value) > maxCharString && !strings.HasPrefix(txt.Txt[1], "p=") {
				t.Errorf("the key does not start its own string: %q", txt.Txt)
			}
		})
	}
}
