package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// txtRecords holds the DKIM key records the sink verifies against, by
// owner name (lower case, no trailing dot).
type txtRecords map[string][]string

// parseRecords reads TXT records in zone-file form, the way both
// `dkimrelay keys dns` and opendkim-genkey print them:
//
//	s1._domainkey.example.org. IN TXT ( "v=DKIM1; k=rsa; " "p=MIIB..." )
//	s1._domainkey IN TXT "v=DKIM1; k=ed25519; p=..."
//
// A record may span lines inside
// parentheses (RFC 1035 section 5.1); its quoted strings are joined into one
// value (RFC 7208 section 3.3 and RFC 6376 section 3.6.2.2 join them the
// same way). Text after a ';' outside quotes is a comment. A relative name
// (no trailing dot, not naming the queried domain) is matched by its
// selector part alone: opendkim-genkey writes "s._domainkey".
func parseRecords(r io.Reader) (txtRecords, error) {
	recs := txtRecords{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var pending []string // tokens of a record still inside parentheses
	depth := 0
	lineNo := 0
	for sc.Scan() {
		lineNo++
		toks, d, err := tokenize(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		depth += d
		if depth < 0 {
			return nil, fmt.Errorf("line %d: unbalanced ')'", lineNo)
		}
		pending = append(pending, toks...)
		if depth > 0 || len(pending) == 0 {
			continue
		}
		name, value, err := recordOf(pending)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		recs[name] = append(recs[name], value)
		pending = nil
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if depth != 0 {
		return nil, errors.New("unterminated '(' at end of file")
	}
	if len(recs) == 0 {
		return nil, errors.New("no records found")
	}
	return recs, nil
}

// tokenize splits a zone-file line into words and returns the change in
// parenthesis depth. A quoted string (its spaces kept) is marked by a
// leading NUL, which no bare word can hold, so recordOf can tell the two
// apart.
func tokenize(line string) (toks []string, depth int, err error) {
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			toks = append(toks, cur.String())
		}
		cur.Reset()
		inWord = false
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '"':
			flush()
			j := i + 1
			for ; j < len(line) && line[j] != '"'; j++ {
				if line[j] == '\\' && j+1 < len(line) {
					j++
				}
				cur.WriteByte(line[j])
			}
			if j == len(line) {
				return nil, 0, errors.New("unterminated quoted string")
			}
			toks = append(toks, "\x00"+cur.String())
			cur.Reset()
			i = j
		case c == ';':
			flush()
			return toks, depth, nil
		case c == '(':
			flush()
			depth++
		case c == ')':
			flush()
			depth--
		case c == ' ' || c == '\t':
			flush()
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return toks, depth, nil
}

// recordOf turns the tokens of one record into its owner name and value.
func recordOf(toks []string) (string, string, error) {
	name := strings.ToLower(strings.TrimSuffix(toks[0], "."))
	if strings.HasPrefix(toks[0], "\x00") || name == "" {
		return "", "", errors.New("record has no owner name")
	}
	rest := toks[1:]
	// Skip TTL, class and type before the data.
	for len(rest) > 0 && !strings.HasPrefix(rest[0], "\x00") {
		w := strings.ToUpper(rest[0])
		if w == "IN" || w == "TXT" || isDigits(w) {
			rest = rest[1:]
			continue
		}
		break
	}
	var b strings.Builder
	for _, t := range rest {
		s, ok := strings.CutPrefix(t, "\x00")
		if !ok {
			return "", "", fmt.Errorf("record %s: unexpected %q; the value must be in double quotes", name, t)
		}
		b.WriteString(s)
	}
	if b.Len() == 0 {
		return "", "", fmt.Errorf("record %s has no quoted value", name)
	}
	return name, b.String(), nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// lookup answers go-msgauth's TXT query for name: the exact owner, or a
// relative owner that is a prefix of it ("s._domainkey" for
// "s._domainkey.example.org").
func (r txtRecords) lookup(name string) ([]string, error) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if v, ok := r[name]; ok {
		return v, nil
	}
	for owner, v := range r {
		if strings.HasPrefix(name, owner+".") && strings.HasSuffix(owner, "._domainkey") {
			return v, nil
		}
	}
	return nil, fmt.Errorf("no TXT record for %s in the records file", name)
}
