package authcheck

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
)

// ErrSPFSyntax is what errors.Is finds in the errors of ParseSPF.
var ErrSPFSyntax = errors.New("SPF syntax error")

// syntaxError words a syntax error to follow "the record has ...".
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string        { return e.msg }
func (e *syntaxError) Is(target error) bool { return target == ErrSPFSyntax }

func syntaxErrorf(format string, a ...any) error { return &syntaxError{fmt.Sprintf(format, a...)} }

// SPFTerm is one term of an SPF record (RFC 7208 section 4.6.1): a
// mechanism with its qualifier, or a modifier.
type SPFTerm struct {
	Text string // as written
	// Qualifier is '+', '-', '~' or '?' for a mechanism ('+' when none is
	// written), 0 for a modifier.
	Qualifier byte
	// Name is the mechanism or modifier name in lower case: all, include,
	// a, mx, ptr, ip4, ip6, exists, redirect, exp, or an unknown
	// modifier's name.
	Name string
	// Value is what follows ":" or "=", with any CIDR lengths.
	Value    string
	Modifier bool
}

// CountsLookup reports whether the term costs one of the 10 DNS lookups a
// record may cause (RFC 7208 section 4.6.4).
func (t SPFTerm) CountsLookup() bool {
	switch t.Name {
	case "include", "a", "mx", "ptr", "exists":
		return !t.Modifier
	case "redirect":
		return t.Modifier
	}
	return false
}

// Domain is the domain-spec a term names, "" when it names none (then a,
// mx and ptr mean the current domain).
func (t SPFTerm) Domain() string {
	v := t.Value
	if t.Name == "a" || t.Name == "mx" {
		if i := strings.IndexByte(v, '/'); i >= 0 {
			v = v[:i]
		}
	}
	return v
}

// IsSPFRecord reports whether a TXT record is an SPF record: "v=spf1" alone
// or followed by a space, in any case (RFC 7208 section 4.5).
func IsSPFRecord(txt string) bool {
	l := strings.ToLower(txt)
	return l == "v=spf1" || strings.HasPrefix(l, "v=spf1 ")
}

var (
	modifierName = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9._-]*=`)
	// cidrSuffix is an ip4-cidr-length and/or an ip6-cidr-length.
	dualCIDR = regexp.MustCompile(`(/([0-9]+))?(//([0-9]+))?$`)
	// macroExpand is the body of %{...} (RFC 7208 section 7.1).
	macroExpand = regexp.MustCompile(`^[slodiphcrtvSLODIPHCRTV][0-9]*[rR]?[.\-+,/_=]*$`)
	// toplabel is RFC 7208 section 7.1's: not all digits, no hyphen at
	// either end.
	toplabel = regexp.MustCompile(`^([a-zA-Z0-9]*[a-zA-Z][a-zA-Z0-9]*|[a-zA-Z0-9]+-[a-zA-Z0-9-]*[a-zA-Z0-9])$`)
)

// ParseSPF parses an SPF record by the grammar of RFC 7208 section 12. Any
// error makes check_host() a permerror before anything is evaluated
// (section 4.6), so the whole record is checked here. The error's text
// follows "the record has": "an invalid term "x": why".
func ParseSPF(record string) ([]SPFTerm, error) {
	fields := strings.Fields(record)
	if len(fields) == 0 || !strings.EqualFold(fields[0], "v=spf1") {
		return nil, syntaxErrorf("no \"v=spf1\" at its start")
	}
	var terms []SPFTerm
	seen := map[string]bool{}
	for _, f := range fields[1:] {
		t, err := parseTerm(f)
		if err != nil {
			return nil, syntaxErrorf("an invalid term %q: %s", f, err)
		}
		if t.Modifier && (t.Name == "redirect" || t.Name == "exp") {
			// RFC 7208 section 6: each at most once.
			if seen[t.Name] {
				return nil, syntaxErrorf("more than one %s= modifier (RFC 7208 section 6)", t.Name)
			}
			seen[t.Name] = true
		}
		terms = append(terms, t)
	}
	return terms, nil
}

func parseTerm(f string) (SPFTerm, error) {
	t := SPFTerm{Text: f}
	if modifierName.MatchString(f) {
		i := strings.IndexByte(f, '=')
		t.Modifier, t.Name, t.Value = true, strings.ToLower(f[:i]), f[i+1:]
		switch t.Name {
		case "redirect", "exp":
			return t, checkDomainSpec(t.Value, t.Name == "exp")
		}
		return t, checkMacroString(t.Value, true)
	}
	t.Qualifier = '+'
	if strings.IndexByte("+-~?", f[0]) >= 0 {
		t.Qualifier, f = f[0], f[1:]
	}
	name, value, hasValue := strings.Cut(f, ":")
	if !hasValue {
		if i := strings.IndexByte(f, '/'); i >= 0 {
			name, value = f[:i], f[i:]
		}
	}
	t.Name, t.Value = strings.ToLower(name), value
	switch t.Name {
	case "all":
		if f != name {
			return t, errors.New(`"all" takes no argument`)
		}
	case "include", "exists":
		if !hasValue {
			return t, fmt.Errorf("%s needs a domain after \":\"", t.Name)
		}
		return t, checkDomainSpec(value, false)
	case "ptr":
		if hasValue {
			return t, checkDomainSpec(value, false)
		}
		if value != "" {
			return t, errors.New("ptr takes no prefix length")
		}
	case "a", "mx":
		m := dualCIDR.FindStringSubmatchIndex(value)
		spec, cidr := value[:m[0]], value[m[0]:]
		if err := checkCIDR(cidr, dualCIDR.FindStringSubmatch(cidr)); err != nil {
			return t, err
		}
		if hasValue || spec != "" {
			if !hasValue {
				return t, fmt.Errorf("%s: unexpected %q", t.Name, spec)
			}
			return t, checkDomainSpec(spec, false)
		}
	case "ip4", "ip6":
		if !hasValue {
			return t, fmt.Errorf("%s needs an address after \":\"", t.Name)
		}
		return t, checkNetwork(t.Name, value)
	default:
		return t, errors.New("unknown mechanism (RFC 7208 section 5 lists a, mx, ip4, ip6, include, exists, ptr, all)")
	}
	return t, nil
}

func checkCIDR(cidr string, m []string) error {
	if cidr == "" {
		return nil
	}
	for i, limit := range map[int]int{2: 32, 4: 128} {
		if m[i] == "" {
			continue
		}
		n, err := strconv.Atoi(m[i])
		if err != nil || n > limit || (len(m[i]) > 1 && m[i][0] == '0') {
			return fmt.Errorf("invalid prefix length /%s", m[i])
		}
	}
	return nil
}

func checkNetwork(kind, v string) error {
	addr, length, hasLength := strings.Cut(v, "/")
	ip := net.ParseIP(addr)
	if kind == "ip4" && (ip == nil || ip.To4() == nil || strings.Contains(addr, ":")) {
		return fmt.Errorf("%q is not an IPv4 address", addr)
	}
	if kind == "ip6" && (ip == nil || !strings.Contains(addr, ":")) {
		return fmt.Errorf("%q is not an IPv6 address", addr)
	}
	if hasLength {
		limit := 32
		if kind == "ip6" {
			limit = 128
		}
		n, err := strconv.Atoi(length)
		if err != nil || n < 0 || n > limit || (len(length) > 1 && length[0] == '0') {
			return fmt.Errorf("invalid prefix length /%s", length)
		}
	}
	return nil
}

// checkDomainSpec checks a domain-spec: a macro-string ending in a macro or
// in a dot and a top label (RFC 7208 section 7.1).
func checkDomainSpec(s string, exp bool) error {
	if s == "" {
		return errors.New("empty domain")
	}
	if err := checkMacroString(s, exp); err != nil {
		return err
	}
	if strings.HasSuffix(s, "}") {
		return nil
	}
	d := strings.TrimSuffix(s, ".")
	i := strings.LastIndexByte(d, '.')
	if i < 0 || !toplabel.MatchString(d[i+1:]) {
		return fmt.Errorf("%q is not a fully qualified domain", s)
	}
	return nil
}

// checkMacroString checks the macros of s (RFC 7208 section 7.1): %{...},
// %%, %_ and %-; the letters c, r and t only in exp= text (section 7.2).
func checkMacroString(s string, exp bool) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e {
			return fmt.Errorf("invalid character %q", c)
		}
		if c != '%' {
			continue
		}
		if i+1 >= len(s) {
			return errors.New("a lone % (write %% for a percent sign)")
		}
		switch s[i+1] {
		case '%', '_', '-':
			i++
			continue
		case '{':
		default:
			return fmt.Errorf("invalid macro %q", s[i:i+2])
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return errors.New("unterminated macro")
		}
		body := s[i+2 : i+end]
		if !macroExpand.MatchString(body) {
			return fmt.Errorf("invalid macro %%{%s}", body)
		}
		if !exp && strings.ContainsAny(body[:1], "crtCRT") {
			return fmt.Errorf("macro %%{%s} is allowed only in exp= text", body)
		}
		i += end
	}
	return nil
}
