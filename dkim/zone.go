package dkim

import (
	"fmt"
	"strings"
)

// maxCharString is the longest character-string a TXT record can hold
// (RFC 1035 section 3.3.14); longer values are split into several, which
// DKIM verifiers join with nothing between them (RFC 6376 section 3.6.2.2).
const maxCharString = 255

// ZoneRecord returns the TXT record publishing value for selector and domain
// as a line of a zone file (RFC 1035 section 5.1):
//
//	s1._domainkey.example.org. IN TXT "v=DKIM1; k=ed25519; p=..."
//
// A value longer than one character-string is split, after the tags that
// come before p= and then every 255 bytes, into quoted strings inside
// parentheses:
//
//	s2._domainkey.example.org. IN TXT ( "v=DKIM1; k=rsa; " "p=MIIB..." "..." )
func ZoneRecord(selector, domain, value string) string {
	name := selector + "._domainkey." + strings.TrimSuffix(domain, ".") + "."
	if len(value) <= maxCharString {
		return name + " IN TXT " + quoteCharString(value)
	}
	var strs []string
	for _, part := range splitBeforePublicKey(value) {
		for len(part) > maxCharString {
			strs = append(strs, quoteCharString(part[:maxCharString]))
			part = part[maxCharString:]
		}
		if part != "" {
			strs = append(strs, quoteCharString(part))
		}
	}
	return name + " IN TXT ( " + strings.Join(strs, " ") + " )"
}

// splitBeforePublicKey splits value before its p= tag, so that the short
// tags stay readable on their own and the key starts a string.
func splitBeforePublicKey(value string) []string {
	for i := 0; i+1 < len(value); i++ {
		if value[i] == 'p' && value[i+1] == '=' && (i == 0 || value[i-1] == ' ' || value[i-1] == ';') {
			if i == 0 {
				break
			}
			return []string{value[:i], value[i:]}
		}
	}
	return []string{value}
}

// quoteCharString quotes s as a zone file character-string: backslash and
// double quote are escaped, bytes outside printable ASCII become \DDD.
func quoteCharString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
