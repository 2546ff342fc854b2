package dkim

import (
	"encoding"
	"fmt"
	"hash"
	"strings"
)

// relaxedBody is the "relaxed" body canonicalization of RFC 6376 section
// 3.4.4, streaming into a hash: white space runs become one space, white
// space at line ends goes, empty lines at the end go, and a non-empty body
// ends in exactly one CRLF. A LF without CR counts as CRLF, as go-msgauth
// (which verifies) treats it. It works on runs of ordinary bytes rather
// than byte by byte: the body is hashed once for every key, so this loop is
// most of what a large message costs the signer.
//
// Line breaks are held back until text follows (at the end of the body
// they go), and they are counted, not buffered, so a body of nothing but
// empty lines costs no memory: a counted run is hashed in chunks from a
// constant block once text follows. A bare CR among held-back line breaks
// (which submission refuses, but a signer may be given) breaks the run;
// then the breaks so far are hashed at once, and the hash's state before
// them is kept, to go back to if no text follows.
type relaxedBody struct {
	h       hash.Hash
	out     []byte // canonical bytes not yet hashed
	crlfs   int    // line breaks held back, each one CRLF
	cr      bool   // a CR held back whose LF may still come
	before  []byte // the hash's state before line breaks hashed ahead of text
	wsp     bool   // white space seen since the last text byte
	written bool   // some text was written
	err     error  // the hash's state could not be saved or restored
}

// hashChunk is how many canonical bytes gather before they are hashed:
// enough to make the hash's per-call cost vanish, small enough that the
// buffer, made once per message, stays small.
const hashChunk = 4 << 10

// crlfBlock is hashChunk bytes of CRLFs, hashed in place of a counted run.
var crlfBlock = []byte(strings.Repeat(crlf, hashChunk/2))

// special marks the bytes the canonicalization looks at.
var special = [256]bool{' ': true, '\t': true, '\r': true, '\n': true}

func (c *relaxedBody) Write(p []byte) (int, error) {
	for i := 0; i < len(p); {
		switch ch := p[i]; ch {
		case ' ', '\t':
			if c.cr {
				c.bareCR()
			}
			c.wsp = true
			i++
		case '\r':
			if c.cr {
				c.bareCR()
			}
			c.wsp, c.cr = false, true
			i++
		case '\n':
			c.wsp, c.cr = false, false
			c.crlfs++
			i++
		default:
			j := i + 1
			for j < len(p) && !special[p[j]] {
				j++
			}
			c.releaseBreaks()
			if c.wsp {
				c.out = append(c.out, ' ')
				c.wsp = false
			}
			c.out = append(c.out, p[i:j]...)
			c.written = true
			i = j
			if len(c.out) >= hashChunk {
				c.h.Write(c.out)
				c.out = c.out[:0]
			}
		}
	}
	return len(p), nil
}

// releaseBreaks adds the held-back line breaks to the canonical output:
// text follows them.
func (c *relaxedBody) releaseBreaks() {
	if c.crlfs > 0 {
		if len(c.out)+2*c.crlfs > hashChunk {
			c.h.Write(c.out)
			c.out = c.out[:0]
			writeCRLFs(c.h, c.crlfs)
		} else {
			c.out = append(c.out, crlfBlock[:2*c.crlfs]...)
		}
		c.crlfs = 0
	}
	if c.cr {
		c.out = append(c.out, '\r')
		c.cr = false
	}
	c.before = nil
}

// bareCR is called when the CR held back is known to be bare (no LF
// follows) while no text has come yet: the breaks held back so far, this
// CR last, are hashed now, and the hash's state before the first of them
// is kept, since the body may still end here.
func (c *relaxedBody) bareCR() {
	if c.before == nil && c.err == nil {
		c.h.Write(c.out)
		c.out = c.out[:0]
		m, ok := c.h.(encoding.BinaryMarshaler)
		if !ok {
			c.err = fmt.Errorf("dkim: the body hash %T cannot save its state", c.h)
		} else {
			c.before, c.err = m.MarshalBinary()
		}
	}
	writeCRLFs(c.h, c.crlfs)
	c.h.Write([]byte{'\r'})
	c.crlfs, c.cr = 0, false
}

// writeCRLFs hashes n CRLFs, a block at a time.
func writeCRLFs(h hash.Hash, n int) {
	for n > 0 {
		k := min(n, len(crlfBlock)/2)
		h.Write(crlfBlock[:2*k])
		n -= k
	}
}

// sum ends the body and returns its hash. Line breaks still held back end
// the body and are not hashed.
func (c *relaxedBody) sum() ([]byte, error) {
	if c.err != nil {
		return nil, c.err
	}
	if c.before != nil {
		u, ok := c.h.(encoding.BinaryUnmarshaler)
		if !ok {
			return nil, fmt.Errorf("dkim: the body hash %T cannot restore its state", c.h)
		}
		if err := u.UnmarshalBinary(c.before); err != nil {
			return nil, fmt.Errorf("dkim: restoring the body hash: %w", err)
		}
		c.before = nil
	}
	if c.written {
		c.out = append(c.out, crlf...)
	}
	c.h.Write(c.out)
	c.out = nil
	return c.h.Sum(nil), nil
}

// appendRelaxedHeader appends the "relaxed" canonical form of one raw
// header field (RFC 6376 section 3.4.2) to dst: lower-case name, the value
// unfolded with white space runs made one space and trimmed, then CRLF.
func appendRelaxedHeader[S ~string | ~[]byte](dst []byte, raw S) []byte {
	colon := -1
	for i := 0; i < len(raw); i++ {
		if raw[i] == ':' {
			colon = i
			break
		}
		if raw[i] >= 0x80 {
			// Not a field name RFC 5322 allows: lower-cased and trimmed
			// as Unicode, as it always was.
			return append(dst, relaxedHeaderUnicode(string(raw))...)
		}
	}
	if colon < 0 {
		return append(dst, relaxedHeaderUnicode(string(raw))...)
	}
	// The name, trimmed of ASCII white space (the name is ASCII here) and
	// lower-cased.
	start, end := 0, colon
	for start < end && asciiSpace(raw[start]) {
		start++
	}
	for end > start && asciiSpace(raw[end-1]) {
		end--
	}
	for i := start; i < end; i++ {
		c := raw[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	dst = append(dst, ':')
	// The value: runs of SP, HTAB, CR and LF become one space, and none
	// is kept at either end.
	pending := false
	for i := colon + 1; i < len(raw); {
		if relaxedSpace(raw[i]) {
			i++
			continue
		}
		if pending {
			dst = append(dst, ' ')
		}
		j := i + 1
		for j < len(raw) && !relaxedSpace(raw[j]) {
			j++
		}
		dst = append(dst, raw[i:j]...)
		pending = true
		i = j
	}
	return append(dst, crlf...)
}

func relaxedSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// asciiSpace is the white space strings.TrimSpace removes, in ASCII.
func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// relaxedHeaderUnicode is appendRelaxedHeader for a field without a colon
// or with a name outside ASCII, which a parsed header never has.
func relaxedHeaderUnicode(raw string) string {
	k, v, ok := strings.Cut(raw, ":")
	if !ok {
		return strings.TrimSpace(strings.ToLower(raw)) + ":" + crlf
	}
	k = strings.TrimSpace(strings.ToLower(k))
	v = strings.Join(strings.FieldsFunc(v, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r'
	}), " ")
	return k + ":" + v + crlf
}
