package authcheck

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSPF(t *testing.T) {
	for _, c := range []struct {
		record  string
		lookups int    // terms that cost a DNS lookup, when valid
		err     string // part of the error, "" when valid
	}{
		{"v=spf1", 0, ""},
		{"V=SPF1 -ALL", 0, ""},
		{"v=spf1 ip4:192.0.2.1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all", 0, ""},
		{"v=spf1 a mx a:mail.example.org/24//64 mx/28 ptr ~all", 5, ""},
		{"v=spf1 include:_spf.example.net exists:%{i}.%{l1r+-}.example.org redirect=example.net", 3, ""},
		{"v=spf1 exp=explain.%{d} foo=bar -all", 0, ""},
		{"v=spf1  ip4:192.0.2.1   -all  ", 0, ""},
		{"v=spf1 a:%{d}", 1, ""},
		{"v=spf1 a:host.example.org.", 1, ""},
		{"v=spf2 -all", 0, `no "v=spf1"`},
		{"v=spf1 bogus", 0, `invalid term "bogus": unknown mechanism`},
		{"v=spf1 ip4:192.0.2.256", 0, "not an IPv4 address"},
		{"v=spf1 ip4:2001:db8::1", 0, "not an IPv4 address"},
		{"v=spf1 ip6:192.0.2.1", 0, "not an IPv6 address"},
		{"v=spf1 ip4:192.0.2.0/33", 0, "invalid prefix length"},
		{"v=spf1 ip6:2001:db8::/129", 0, "invalid prefix length"},
		{"v=spf1 a/33", 0, "invalid prefix length"},
		{"v=spf1 a//129", 0, "invalid prefix length"},
		{"v=spf1 ip4", 0, "needs an address"},
		{"v=spf1 include", 0, "needs a domain"},
		{"v=spf1 include:", 0, "empty domain"},
		{"v=spf1 a:localhost", 0, "not a fully qualified domain"},
		{"v=spf1 a:example.123", 0, "not a fully qualified domain"},
		{"v=spf1 -all:foo", 0, `"all" takes no argument`},
		{"v=spf1 exists:%{q}.example.org", 0, "invalid macro"},
		{"v=spf1 exists:%{c}.example.org", 0, "only in exp= text"},
		{"v=spf1 exists:%x.example.org", 0, "invalid macro"},
		{"v=spf1 exists:%{d.example.org", 0, "unterminated macro"},
		{"v=spf1 redirect=a.example.org redirect=b.example.org", 0, "more than one redirect="},
		{"v=spf1 +redirect=a.example.org", 0, "unknown mechanism"},
	} {
		terms, err := ParseSPF(c.record)
		if c.err != "" {
			if err == nil || !errors.Is(err, ErrSPFSyntax) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseSPF(%q) = %v, want an SPF syntax error with %q", c.record, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseSPF(%q): %v", c.record, err)
			continue
		}
		n := 0
		for _, term := range terms {
			if term.CountsLookup() {
				n++
			}
		}
		if n != c.lookups {
			t.Errorf("ParseSPF(%q): %d terms cost a lookup, want %d", c.record, n, c.lookups)
		}
	}
}

func TestSPFTermParts(t *testing.T) {
	terms, err := ParseSPF("v=spf1 ~a:mail.example.org/24 -mx redirect=_spf.example.net")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		q      byte
		name   string
		domain string
		mod    bool
	}{{'~', "a", "mail.example.org", false}, {'-', "mx", "", false}, {0, "redirect", "_spf.example.net", true}}
	for i, w := range want {
		g := terms[i]
		if g.Qualifier != w.q || g.Name != w.name || g.Domain() != w.domain || g.Modifier != w.mod {
			t.Errorf("term %d: %c %s %q modifier=%v, want %c %s %q %v", i, g.Qualifier, g.Name, g.Domain(), g.Modifier, w.q, w.name, w.domain, w.mod)
		}
	}
}
