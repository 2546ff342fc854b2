package submission

import (
	"bytes"
	"fmt"
	"io"

	"github.com/emersion/go-smtp"
)

// maxLineLength is the RFC 5322 section 2.1.1 limit of 998 characters
// before the CRLF.
const maxLineLength = 998

// strictReader passes the DATA stream through unchanged while checking it
// line by line. It refuses what receivers treat inconsistently, because that
// inconsistency is what SMTP smuggling exploits: go-smtp only ends DATA at
// <CRLF>.<CRLF>, but it passes a bare LF or bare CR through, and a downstream
// server that ends DATA at <LF>.<LF> would see a second, forged message
// (CVE-2023-51764 and its kin). Like Postfix's smtpd_forbid_bare_newline,
// the relay refuses such a message rather than repair it, so nothing it
// relays can be read two ways. NUL bytes (RFC 5321 section 4.5.2 and
// RFC 5322 section 2.1) and over-long lines are refused for the same reason.
//
// The whole message passes through here, so the checks run a block at a
// time, as does the reader under it: go-smtp's DATA reader, in the copy in
// third_party/go-smtp (see its README.md), which undoes dot-stuffing and
// finds the end of DATA a line at a time instead of a byte at a time.
type strictReader struct {
	r      io.Reader
	prevCR bool
	line   int // characters on the current line, before CRLF
	err    error
}

func newStrictReader(r io.Reader) *strictReader { return &strictReader{r: r} }

func dataError(code int, ec smtp.EnhancedCode, format string, args ...any) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: ec, Message: fmt.Sprintf(format, args...)}
}

var (
	errBareLF = dataError(550, smtp.EnhancedCode{5, 6, 0},
		"Message contains a bare LF: every line must end with CRLF (RFC 5321 section 2.3.8)")
	errBareCR = dataError(550, smtp.EnhancedCode{5, 6, 0},
		"Message contains a bare CR: every line must end with CRLF (RFC 5321 section 2.3.8)")
	errNUL = dataError(550, smtp.EnhancedCode{5, 6, 0},
		"Message contains a NUL byte, which RFC 5322 section 2.1 does not allow")
	errLongLine = dataError(550, smtp.EnhancedCode{5, 6, 0},
		"Message has a line longer than 998 characters (RFC 5322 section 2.1.1): encode it (quoted-printable or base64)")
)

func (s *strictReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.r.Read(p)
	if !s.clean(p[:n]) {
		if i, bad := s.check(p[:n]); bad != nil {
			s.err = bad
			return i, bad
		}
	}
	if err == io.EOF && s.prevCR {
		// A CR as the very last byte: go-smtp only ends DATA after CRLF,
		// so this can only come from BDAT.
		s.err = errBareCR
		return n, s.err
	}
	return n, err
}

// clean is the check of a block that breaks no rule, the common case, in
// fewer passes than check: one search for a NUL and one count of LFs over
// the whole block, and one search for the next CR a line. It reports
// whether p is clean, and then advances the line state over it; otherwise
// it leaves the state as it was, for check to find the first offending
// byte. Every CR it meets is followed by a LF and no line is too long, so
// p has a bare LF exactly when it has more LFs than those.
func (s *strictReader) clean(p []byte) bool {
	if bytes.IndexByte(p, 0) >= 0 {
		return false
	}
	prevCR, line, crlfs := s.prevCR, s.line, 0
	for i := 0; i < len(p); {
		if prevCR {
			if p[i] != '\n' {
				return false
			}
			prevCR, line, crlfs = false, 0, crlfs+1
			i++
			continue
		}
		cr := bytes.IndexByte(p[i:], '\r')
		if cr < 0 {
			line += len(p) - i
			break
		}
		line += cr
		if line > maxLineLength {
			return false
		}
		prevCR = true
		i += cr + 1
	}
	if line > maxLineLength || bytes.Count(p, lf) != crlfs {
		return false
	}
	s.prevCR, s.line = prevCR, line
	return true
}

var lf = []byte{'\n'}

// check runs p through the line checks. On a refusal it returns the
// offset of the first offending byte and the reply. It looks at a line's
// text a segment at a time, between CRs, with bytes.IndexByte, rather than
// byte by byte: the whole message passes through here.
func (s *strictReader) check(p []byte) (int, error) {
	for i := 0; i < len(p); {
		if s.prevCR {
			s.prevCR = false
			if p[i] != '\n' {
				return i, errBareCR
			}
			s.line = 0
			i++
			continue
		}
		seg := p[i:]
		cr := bytes.IndexByte(seg, '\r')
		if cr >= 0 {
			seg = seg[:cr]
		}
		// The first offending byte of the segment wins: a LF or NUL, or
		// the byte that makes the line too long (a LF or NUL at that very
		// place is reported as what it is).
		at, bad := len(seg), error(nil)
		if k := maxLineLength - s.line; k < len(seg) {
			at, bad = k, errLongLine
		}
		if k := bytes.IndexByte(seg[:min(at+1, len(seg))], '\n'); k >= 0 {
			at, bad = k, errBareLF
		}
		if k := bytes.IndexByte(seg[:min(at+1, len(seg))], 0); k >= 0 {
			at, bad = k, errNUL
		}
		if bad != nil {
			return i + at, bad
		}
		s.line += len(seg)
		if cr < 0 {
			break
		}
		s.prevCR = true
		i += cr + 1
	}
	return 0, nil
}
