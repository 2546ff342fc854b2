// Package mtasts finds, fetches, caches and applies receiving domains'
// MTA-STS policies (RFC 8461): whether mail to a domain must go over TLS
// with a verified certificate, and to which MX hosts.
package mtasts

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Mode is a policy's mode (RFC 8461 section 3.2).
type Mode string

// Modes.
const (
	// Enforce: deliver only to MX hosts matching the policy, over TLS
	// with a certificate valid for the MX host's name.
	Enforce Mode = "enforce"
	// Testing: deliver anyway; report what would have failed (RFC 8460).
	Testing Mode = "testing"
	// None: the domain withdrew its policy.
	None Mode = "none"
)

// maxMaxAge is the largest max_age a policy may state (RFC 8461 section
// 3.2): about a year.
const maxMaxAge = 31557600 * time.Second

// Policy is a parsed policy file.
type Policy struct {
	Mode   Mode
	MX     []string // patterns: "mail.example.com" or "*.example.net"
	MaxAge time.Duration
}

// Parse reads a policy file (RFC 8461 section 3.2): "key: value" lines,
// version STSv1, a mode, a max_age and, unless the mode is none, at least
// one mx pattern. Unknown keys are ignored, as the RFC asks.
func Parse(text string) (*Policy, error) {
	p := &Policy{}
	var version, mode, maxAge bool
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("policy line %d %q: want \"key: value\"", n, truncate(line))
		}
		value = strings.TrimSpace(value)
		switch strings.TrimSpace(key) {
		case "version":
			if value != "STSv1" {
				return nil, fmt.Errorf("policy version %q: want STSv1", truncate(value))
			}
			version = true
		case "mode":
			switch Mode(value) {
			case Enforce, Testing, None:
				p.Mode = Mode(value)
			default:
				return nil, fmt.Errorf("policy mode %q: want enforce, testing or none", truncate(value))
			}
			mode = true
		case "max_age":
			secs, err := strconv.ParseUint(value, 10, 64)
			if err != nil || len(value) > 10 {
				return nil, fmt.Errorf("policy max_age %q: want a number of seconds", truncate(value))
			}
			p.MaxAge = time.Duration(min(secs, uint64(maxMaxAge/time.Second))) * time.Second
			maxAge = true
		case "mx":
			if !validPattern(value) {
				return nil, fmt.Errorf("policy mx %q: want a host name, or *. and a domain", truncate(value))
			}
			p.MX = append(p.MX, strings.ToLower(strings.TrimSuffix(value, ".")))
		}
	}
	switch {
	case !version:
		return nil, fmt.Errorf("policy has no \"version: STSv1\" line")
	case !mode:
		return nil, fmt.Errorf("policy has no mode")
	case !maxAge:
		return nil, fmt.Errorf("policy has no max_age")
	case p.Mode != None && len(p.MX) == 0:
		return nil, fmt.Errorf("policy in mode %s names no mx", p.Mode)
	}
	return p, nil
}

// Matches reports whether the MX host name host is one the policy allows
// (RFC 8461 section 4.1): equal to a pattern, or, for a pattern
// "*.example.net", example.net with exactly one more label in front.
func (p *Policy) Matches(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, pat := range p.MX {
		if rest, ok := strings.CutPrefix(pat, "*."); ok {
			label, parent, found := strings.Cut(host, ".")
			if found && label != "" && parent == rest {
				return true
			}
			continue
		}
		if host == pat {
			return true
		}
	}
	return false
}

// String is the policy in its file's form.
func (p *Policy) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: STSv1\nmode: %s\n", p.Mode)
	for _, mx := range p.MX {
		fmt.Fprintf(&b, "mx: %s\n", mx)
	}
	fmt.Fprintf(&b, "max_age: %d\n", int64(p.MaxAge/time.Second))
	return b.String()
}

func validPattern(s string) bool {
	s = strings.TrimPrefix(s, "*.")
	return ValidDomain(strings.TrimSuffix(s, "."))
}

// ValidDomain reports whether s is a host name of LDH labels (RFC 1123
// section 2.1) with at least two labels; other names have no MTA-STS
// policy, and this keeps them out of cache file names.
func ValidDomain(s string) bool {
	if len(s) == 0 || len(s) > 253 || !strings.Contains(s, ".") {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
