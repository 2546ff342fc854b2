package keys

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNormalizeDomain(t *testing.T) {
	tests := []struct {
		in, want string // want "" means invalid
	}{
		{"example.org", "example.org"},
		{"Example.ORG", "example.org"},
		{"example.org.", "example.org"},
		{"mail-1.example.org", "mail-1.example.org"},
		{"1example.org", "1example.org"},
		{"xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"", ""},
		{".", ""},
		{"example..org", ""},
		{".example.org", ""},
		{"-example.org", ""},
		{"example-.org", ""},
		{"exa_mple.org", ""},
		{"exa mple.org", ""},
		{"../etc", ""},
		{"a/b", ""},
		{"bücher.example", ""},
		{strings.Repeat("a", 64) + ".org", ""},
		{strings.Repeat("abcdefghi.", 26) + "org", ""},
	}
	for _, tt := range tests {
		got, err := normalizeDomain(tt.in)
		if tt.want == "" {
			if err == nil || !errors.Is(err, ErrInvalid) {
				t.Errorf("normalizeDomain(%q) = %q, %v; want ErrInvalid", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("normalizeDomain(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestNormalizeSelector(t *testing.T) {
	long := strings.Repeat(strings.Repeat("s", 45)+".", 4) // 184 octets
	tests := []struct {
		in, want string // want "" means invalid
	}{
		{"s1", "s1"},
		{"S202611R", "s202611r"},
		{"2026", "2026"},
		{"mail-2026", "mail-2026"},
		{"s1.sub", "s1.sub"}, // RFC 6376 3.1 allows dotted selectors
		{"", ""},
		{"-s1", ""},
		{"s1-", ""},
		{"s_1", ""},
		{"s1.", ""},
		{".s1", ""},
		{"s1..x", ""},
		{"s1/x", ""},
		{"..", ""},
		{strings.Repeat("s", 64), ""},
		// The record name must fit in 253 octets: 253-len("._domainkey.example.org") = 230.
		{long + strings.Repeat("s", 46), long + strings.Repeat("s", 46)},
		{long + strings.Repeat("s", 47), ""},
	}
	for _, tt := range tests {
		got, err := normalizeSelector(tt.in, testDomain)
		if tt.want == "" {
			if err == nil || !errors.Is(err, ErrInvalid) {
				t.Errorf("normalizeSelector(%q) = %q, %v; want ErrInvalid", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("normalizeSelector(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestDerivedSelectors(t *testing.T) {
	s := openTest(t)
	dec := time.Date(2026, 12, 1, 0, 0, 0, 0, time.FixedZone("east", 5*3600)) // still November in UTC
	steps := []struct {
		alg  Algorithm
		sel  string
		now  time.Time
		want string
	}{
		{Ed25519, "", t0, "s202611e"},
		{Ed25519, "", t0, "s202611e2"},
		{RSA2048, "", t0, "s202611r"},
		{Ed25519, "", t0, "s202611e3"},
		{Ed25519, "", dec, "s202611e4"},
		{Ed25519, "s202612e", t0, "s202612e"}, // chosen by hand
		{Ed25519, "", t0.AddDate(0, 1, 0), "s202612e2"},
		{RSA2048, "", t0.AddDate(0, 1, 0), "s202612r"},
		{Ed25519, "", t0.AddDate(1, 0, 0), "s202711e"},
	}
	for _, st := range steps {
		k := mustGenerate(t, s, testDomain, st.alg, st.sel, st.now)
		if k.Selector != st.want {
			t.Errorf("Generate(%s, %q, %v) selector = %q, want %q", st.alg, st.sel, st.now, k.Selector, st.want)
		}
	}
	// A selector freed by Remove is not derived again: its record may
	// have been published (TestDerivedSelectorSkipsRemovedKeys).
	if err := s.Remove(testDomain, "s202611e2"); err != nil {
		t.Fatal(err)
	}
	if k := mustGenerate(t, s, testDomain, Ed25519, "", t0); k.Selector != "s202611e5" {
		t.Errorf("after Remove, derived selector = %q, want s202611e5", k.Selector)
	}
	// Derivation is per domain.
	if k := mustGenerate(t, s, "example.net", Ed25519, "", t0); k.Selector != "s202611e" {
		t.Errorf("other domain: derived selector = %q, want s202611e", k.Selector)
	}
}

func TestGenerateRefusals(t *testing.T) {
	s := openTest(t)
	mustGenerate(t, s, testDomain, Ed25519, "s1", t0)
	tests := []struct {
		name             string
		domain, selector string
		alg              Algorithm
		want             error
	}{
		{"bad domain", "exa_mple.org", "s2", Ed25519, ErrInvalid},
		{"path domain", "../../tmp", "s2", Ed25519, ErrInvalid},
		{"bad selector", testDomain, "s 2", Ed25519, ErrInvalid},
		{"path selector", testDomain, "../s2", Ed25519, ErrInvalid},
		{"bad algorithm", testDomain, "s2", "rsa1024", ErrInvalid},
		{"taken", testDomain, "s1", Ed25519, ErrExists},
		{"taken other case", "EXAMPLE.org", "S1", Ed25519, ErrExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := s.Generate(tt.domain, tt.alg, tt.selector, t0)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Generate = %v, %v; want %v", k, err, tt.want)
			}
		})
	}
	keys, errs := s.List()
	if len(errs) > 0 || !slices.Equal(selectorsOf(keys), []string{"s1:pending"}) {
		t.Errorf("after refusals List = %v, %v; want only s1", selectorsOf(keys), errs)
	}
	entries, _ := os.ReadDir(s.Dir())
	for _, e := range entries {
		if e.Name() != testDomain && e.Name() != lockName {
			t.Errorf("refused Generate left %s in the store", e.Name())
		}
	}
}
