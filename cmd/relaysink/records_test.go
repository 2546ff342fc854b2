package main

import (
	"strings"
	"testing"
)

func TestParseRecords(t *testing.T) {
	tests := []struct {
		name, in string
		lookup   string
		want     string
	}{
		{
			name:   "dkimrelay keys dns",
			in:     "s1._domainkey.example.org. 3600 IN TXT ( \"v=DKIM1; k=rsa; \"\n  \"p=MIIBIj\" \"AN\" )\n",
			lookup: "s1._domainkey.example.org",
			want:   "v=DKIM1; k=rsa; p=MIIBIjAN",
		},
		{
			name:   "opendkim-genkey, relative owner",
			in:     "pf._domainkey\tIN\tTXT\t( \"v=DKIM1; h=sha256; k=rsa; \"\n\t  \"p=MIIB\" )  ; ----- DKIM key pf for bench.test\n",
			lookup: "pf._domainkey.bench.test",
			want:   "v=DKIM1; h=sha256; k=rsa; p=MIIB",
		},
		{
			name:   "comments, no class, any case",
			in:     "; comment lines are skipped\ned._domainkey.example.org TXT \"v=DKIM1; k=ed25519; p=abc\"\n",
			lookup: "ED._domainkey.example.org.",
			want:   "v=DKIM1; k=ed25519; p=abc",
		},
		{
			name:   "quoted semicolon is data",
			in:     `x._domainkey.example.org IN TXT "v=DKIM1; p=a\"b"`,
			lookup: "x._domainkey.example.org",
			want:   `v=DKIM1; p=a"b`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := parseRecords(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			got, err := recs.lookup(tt.lookup)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("lookup(%q) = %q, want %q", tt.lookup, got, tt.want)
			}
		})
	}
}

func TestParseRecordsErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"s._domainkey.example.org IN TXT ( \"v=DKIM1\"\n",
		"s._domainkey.example.org IN TXT \"v=DKIM1\n",
		"s._domainkey.example.org IN TXT\n",
		") x\n",
		"s._domainkey.example.org IN TXT v=DKIM1\n",
	} {
		if _, err := parseRecords(strings.NewReader(in)); err == nil {
			t.Errorf("parseRecords(%q) succeeded, want an error", in)
		}
	}
}

func TestLookupUnknown(t *testing.T) {
	recs, err := parseRecords(strings.NewReader(`a._domainkey.example.org IN TXT "v=DKIM1; p=x"`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := recs.lookup("b._domainkey.example.org"); err == nil {
		t.Error("lookup of an absent selector succeeded")
	}
	// A relative owner matches only its own selector.
	recs, _ = parseRecords(strings.NewReader(`a._domainkey IN TXT "v=DKIM1; p=x"`))
	if _, err := recs.lookup("xa._domainkey.example.org"); err == nil {
		t.Error("relative owner matched another selector")
	}
}
