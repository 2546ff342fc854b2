package dkim

import (
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
type relaxedBody struct {
	h       hash.Hash
	out     []byte // canonical bytes not yet hashed
	pending []byte // line breaks seen but not yet known to be followed by text
	wsp     bool   // white space seen since the last text byte
	prevCR  bool   // the last byte was CR
	written bool   // some text was written
}

// hashChunk is how many canonical bytes gather before they are hashed:
// enough to make the hash's per-call cost vanish, small enough that the
// buffer, made once per message, stays small.
const hashChunk = 4 << 10

// special marks the bytes the canonicalization looks at.
var special = [256]bool{' ': true, '\t': true, '\r': true, '\n': true}

func (c *relaxedBody) Write(p []byte) (int, error) {
	for i := 0; i < len(p); {
		switch ch := p[i]; ch {
		case ' ', '\t':
			c.wsp, c.prevCR = true, false
			i++
		case '\r':
			c.wsp, c.prevCR = false, true
			c.pending = append(c.pending, '\r')
			i++
		case '\n':
			if !c.prevCR {
				c.pending = append(c.pending, '\r')
			}
			c.wsp, c.prevCR = false, false
			c.pending = append(c.pending, '\n')
			i++
		default:
			j := i + 1
			for j < len(p) && !special[p[j]] {
				j++
			}
			if len(c.pending) > 0 {
				c.out = append(c.out, c.pending...)
				c.pending = c.pending[:0]
			}
			if c.wsp {
				c.out = append(c.out, ' ')
				c.wsp = false
			}
			c.out = append(c.out, p[i:j]...)
			c.prevCR, c.written = false, true
			i = j
			if len(c.out) >= hashChunk {
				c.h.Write(c.out)
				c.out = c.out[:0]
			}
		}
	}
	return len(p), nil
}

// sum ends the body and returns its hash.
func (c *relaxedBody) sum() []byte {
	if c.written {
		c.out = append(c.out, crlf...)
	}
	c.h.Write(c.out)
	c.out = nil
	return c.h.Sum(nil)
}

// relaxedHeader is the "relaxed" canonical form of one raw header field
// (RFC 6376 section 3.4.2): lower-case name, the value unfolded with white
// space runs made one space and trimmed, then CRLF.
func relaxedHeader(raw string) string {
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
