package dkim

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// DefaultMaxHeaderBytes is the header size limit ReadHeader applies when
// given a limit of zero or less.
const DefaultMaxHeaderBytes = 1 << 20

var (
	// ErrHeaderTooLarge is returned by ReadHeader when the header block is
	// longer than the limit. The message should be refused permanently
	// (552 5.3.4).
	ErrHeaderTooLarge = errors.New("dkim: message header too large")

	// ErrMalformedHeader is wrapped by the errors ReadHeader returns for a
	// header block that is not valid RFC 5322 syntax; the wrapping error
	// says what is wrong and on which line. The message should be refused
	// permanently (550 5.6.0).
	ErrMalformedHeader = errors.New("dkim: malformed message header")
)

// ReadHeader reads a header block from r, up to and including the empty
// line that ends it, and leaves r at the first byte of the body. Lines must
// end in CRLF.
//
// A message that ends right after its header, with or without the empty
// line, is valid: its body is empty. When the last line lacks its CRLF,
// the Header adds it, so WriteTo always writes a complete header block.
//
// The block, empty line included, may be at most max bytes long (at most
// DefaultMaxHeaderBytes if max <= 0); a longer one gives ErrHeaderTooLarge.
// A line without a colon, a continuation line before any field, a field
// name outside RFC 5322 section 2.2, a line of only white space, a bare CR
// or LF or a NUL gives an error wrapping ErrMalformedHeader. Errors from r
// are returned wrapped.
func ReadHeader(r *bufio.Reader, max int) (*Header, error) {
	if max <= 0 {
		max = DefaultMaxHeaderBytes
	}
	// The block is read into one buffer and made one string, which the
	// fields are slices of: a few allocations for the whole header
	// rather than a few per line.
	buf := make([]byte, 0, 2<<10)
	var spanArr [24]fieldSpan
	spans := spanArr[:0]
	for lineNo := 1; ; lineNo++ {
		start := len(buf)
		var err error
		buf, err = appendLine(buf, r, max-start)
		line := buf[start:]
		if errors.Is(err, ErrHeaderTooLarge) {
			return nil, fmt.Errorf("%w (the limit is %d bytes)", ErrHeaderTooLarge, max)
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("dkim: reading the message header: %w", err)
		}
		if len(line) == 0 || string(line) == crlf {
			// End of input, or the empty line ending the block.
			return newHeader(buf[:start], spans), nil
		}

		content, ok := bytes.CutSuffix(line, []byte(crlf))
		if !ok && err != io.EOF {
			// A line that ends in LF without CR. Other parsers could see
			// it as a line break or not, and disagree with this one about
			// where fields end (as in SMTP smuggling).
			return nil, malformed(lineNo, "line ends with a bare LF; lines must end with CRLF")
		}
		if reason := checkLine(content); reason != "" {
			return nil, malformed(lineNo, reason)
		}
		if !ok {
			buf = append(buf, crlf...) // the last line, completed
		}

		if content[0] == ' ' || content[0] == '\t' {
			// A continuation line: RFC 5322 section 2.2.3 folding.
			if len(spans) == 0 {
				return nil, malformed(lineNo, "the header starts with a continuation line (a line beginning with white space)")
			}
			if len(bytes.Trim(content, " \t")) == 0 {
				return nil, malformed(lineNo, "continuation line of only white space (obsolete syntax, RFC 5322 section 4.2)")
			}
			spans[len(spans)-1].end = len(buf)
			continue
		}

		name, _, found := bytes.Cut(content, []byte(":"))
		if !found {
			return nil, malformed(lineNo, "header line has no colon; fields are \"Name: value\"")
		}
		if reason := checkFieldName(string(name)); reason != "" {
			return nil, malformed(lineNo, reason)
		}
		spans = append(spans, fieldSpan{start: start, name: len(name), end: len(buf)})
	}
}

// fieldSpan is where a field is in the header block ReadHeader read: its
// raw bytes are block[start:end], its name the first name bytes.
type fieldSpan struct{ start, name, end int }

// newHeader makes the fields of block, as spans places them.
func newHeader(block []byte, spans []fieldSpan) *Header {
	all := string(block)
	h := &Header{fields: make([]field, len(spans))}
	for i, s := range spans {
		h.fields[i] = field{name: all[s.start : s.start+s.name], raw: all[s.start:s.end]}
	}
	return h
}

// appendLine appends the next line of r, with its line ending, to buf,
// reading at most limit bytes. At the end of the input it appends the
// remaining bytes (maybe none) and returns io.EOF.
func appendLine(buf []byte, r *bufio.Reader, limit int) ([]byte, error) {
	n := 0
	for {
		chunk, err := r.ReadSlice('\n')
		if n+len(chunk) > limit {
			return buf, ErrHeaderTooLarge
		}
		// ReadSlice's result is only valid until the next read: copy it.
		buf = append(buf, chunk...)
		n += len(chunk)
		if err != bufio.ErrBufferFull {
			return buf, err
		}
	}
}

// checkLine returns why a header line (without its CRLF) is malformed, or ""
// if it is not. CR and NUL are not allowed in header fields (RFC 5322
// section 2.2; NUL only appears in obsolete syntax, section 4).
func checkLine(content []byte) string {
	if i := bytes.IndexByte(content, '\r'); i >= 0 {
		return "bare CR at byte " + strconv.Itoa(i+1) + "; lines must end with CRLF"
	}
	if i := bytes.IndexByte(content, 0); i >= 0 {
		return "NUL byte at byte " + strconv.Itoa(i+1)
	}
	return ""
}

func malformed(lineNo int, reason string) error {
	return fmt.Errorf("%w: line %d: %s", ErrMalformedHeader, lineNo, reason)
}

// quoteName quotes a field name for an error message, shortened so that a
// hostile line cannot flood the log.
func quoteName(name string) string {
	const max = 40
	if len(name) > max {
		return strconv.Quote(name[:max]) + "..."
	}
	return strconv.Quote(name)
}

func quoteByte(c byte) string {
	if c == ' ' {
		return "a space"
	}
	if c == '\t' {
		return "a tab"
	}
	if c > ' ' && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02X", c)
}
