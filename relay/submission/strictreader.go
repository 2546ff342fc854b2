package submission

import (
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
	for i := 0; i < n; i++ {
		c := p[i]
		if s.prevCR {
			s.prevCR = false
			if c != '\n' {
				s.err = errBareCR
				return i, s.err
			}
			s.line = 0
			continue
		}
		switch c {
		case '\r':
			s.prevCR = true
		case '\n':
			s.err = errBareLF
			return i, s.err
		case 0:
			s.err = errNUL
			return i, s.err
		default:
			s.line++
			if s.line > maxLineLength {
				s.err = errLongLine
				return i, s.err
			}
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
