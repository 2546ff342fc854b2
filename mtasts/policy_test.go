package mtasts

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		text string
		want *Policy // nil: an error containing errSub
		err  string
	}{
		{"enforce", "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n",
			&Policy{Mode: Enforce, MX: []string{"mail.example.com", "*.example.net"}, MaxAge: 7 * 24 * time.Hour}, ""},
		{"LF endings, spaces, unknown key, case", "version: STSv1\nmode:testing\nmx:  MX1.Example.COM.  \nextension: whatever\nmax_age: 86400\n",
			&Policy{Mode: Testing, MX: []string{"mx1.example.com"}, MaxAge: 24 * time.Hour}, ""},
		{"none needs no mx", "version: STSv1\nmode: none\nmax_age: 0\n", &Policy{Mode: None}, ""},
		{"max_age capped at a year", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 9999999999\n",
			&Policy{Mode: Enforce, MX: []string{"a.example"}, MaxAge: maxMaxAge}, ""},
		{"no version", "mode: enforce\nmx: a.example\nmax_age: 1\n", nil, "version"},
		{"wrong version", "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n", nil, "STSv1"},
		{"bad mode", "version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n", nil, "mode"},
		{"no max_age", "version: STSv1\nmode: enforce\nmx: a.example\n", nil, "max_age"},
		{"negative max_age", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n", nil, "max_age"},
		{"enforce without mx", "version: STSv1\nmode: enforce\nmax_age: 1\n", nil, "no mx"},
		{"bad mx", "version: STSv1\nmode: enforce\nmx: a.*.example\nmax_age: 1\n", nil, "mx"},
		{"not key: value", "version: STSv1\nmode enforce\n", nil, "key: value"},
		{"HTML", "<html><body>not found</body></html>\n", nil, "key: value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.text)
			if tt.want == nil {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Parse = %+v, %v; want an error about %q", got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Mode != tt.want.Mode || got.MaxAge != tt.want.MaxAge || strings.Join(got.MX, ",") != strings.Join(tt.want.MX, ",") {
				t.Errorf("Parse = %+v, want %+v", got, tt.want)
			}
			again, err := Parse(got.String())
			if err != nil || again.String() != got.String() {
				t.Errorf("String does not parse back: %q (%v)", got.String(), err)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	p := &Policy{Mode: Enforce, MX: []string{"mail.example.com", "*.example.net"}}
	for host, want := range map[string]bool{
		"mail.example.com":      true,
		"MAIL.example.com.":     true,
		"mx1.example.net":       true,
		"example.net":           false, // the wildcard needs one more label
		"a.b.example.net":       false, // and only one (RFC 8461 section 4.1)
		"mail.example.com.evil": false,
		"other.example.com":     false,
		".example.net":          false,
	} {
		if got := p.Matches(host); got != want {
			t.Errorf("Matches(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestRecordID(t *testing.T) {
	tests := []struct {
		txts []string
		id   string
		err  string
	}{
		{[]string{"v=STSv1; id=20160831085700Z;"}, "20160831085700Z", ""},
		{[]string{"v=STSv1;id=abc"}, "abc", ""},
		{[]string{"v=spf1 -all", "v=STSv1; id=1; ext=x"}, "1", ""},
		{nil, "", "no MTA-STS record"},
		{[]string{"v=spf1 -all"}, "", "no MTA-STS record"},
		{[]string{"v=STSv1; id=1", "v=STSv1; id=2"}, "", "2 records"},
		{[]string{"v=STSv1;"}, "", "no id"},
		{[]string{"v=STSv1; id=has-dash"}, "", "letters and digits"},
		{[]string{"v=STSv1; id=" + strings.Repeat("a", 33)}, "", "letters and digits"},
		{[]string{"v=STSv10; id=1"}, "", "start with v=STSv1"},
	}
	for _, tt := range tests {
		id, err := recordID(tt.txts)
		if id != tt.id || (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("recordID(%q) = %q, %v; want %q, error ~%q", tt.txts, id, err, tt.id, tt.err)
		}
	}
}
