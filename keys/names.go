package keys

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// canonicalDomain lower-cases a domain and drops a trailing root dot,
// without validating it; it is cheap enough for the signing path.
func canonicalDomain(domain string) string {
	return strings.ToLower(strings.TrimSuffix(domain, "."))
}

// normalizeDomain returns the canonical form of a signing domain, or an
// error if it is not a host name. The name is also a folder name in the
// store, so the check doubles as path safety: no "/", no "..", no leading dot.
// Internationalized domains must be given as A-labels (xn--...).
func normalizeDomain(domain string) (string, error) {
	d := canonicalDomain(domain)
	if err := checkName(d, 253); err != nil {
		return "", &keyError{ErrInvalid, fmt.Sprintf("invalid domain %q: %v", domain, err)}
	}
	return d, nil
}

// normalizeSelector returns the canonical (lower-case) form of a selector
// for domain. RFC 6376 section 3.1: selector = sub-domain *( "." sub-domain ),
// sub-domain being the RFC 5321 letter-digit-hyphen label. The record name
// <selector>._domainkey.<domain> must also fit in 253 octets (RFC 1035
// section 2.3.4). DNS compares names case-insensitively, so "S1" and "s1"
// are the same selector and must not become two files.
func normalizeSelector(selector, domain string) (string, error) {
	s := strings.ToLower(selector)
	maxLen := 253 - len("._domainkey.") - len(domain)
	if err := checkName(s, maxLen); err != nil {
		return "", &keyError{ErrInvalid, fmt.Sprintf("invalid selector %q: %v; use letters, digits and hyphens, e.g. s2026a", selector, err)}
	}
	return s, nil
}

// checkName checks dotted letter-digit-hyphen labels (RFC 1035 section
// 2.3.1, relaxed by RFC 1123 section 2.1 to allow a leading digit).
func checkName(name string, maxLen int) error {
	if name == "" {
		return fmt.Errorf("it is empty")
	}
	if len(name) > maxLen {
		return fmt.Errorf("it is longer than %d characters", maxLen)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" {
			return fmt.Errorf("it has an empty label")
		}
		if len(label) > 63 {
			return fmt.Errorf("label %q is longer than 63 characters", label)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("label %q starts or ends with a hyphen", label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return fmt.Errorf("%q is not allowed", c)
			}
		}
	}
	return nil
}

// selectorBase is the selector derived for a key made at t: "s", year and
// month, and "r" for RSA or "e" for Ed25519, e.g. s202611r. Date-based
// selectors tell an administrator at a glance how old a published key is,
// and the letter keeps an RSA and an Ed25519 key made the same month apart.
func selectorBase(alg Algorithm, t time.Time) string {
	letter := "r"
	if alg == Ed25519 {
		letter = "e"
	}
	return "s" + t.UTC().Format("200601") + letter
}

// deriveSelector returns the first of base, base2, base3, ... for which
// taken reports false.
func deriveSelector(base string, taken func(string) bool) string {
	if !taken(base) {
		return base
	}
	for n := 2; ; n++ {
		if s := base + strconv.Itoa(n); !taken(s) {
			return s
		}
	}
}
