package smtp

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

type EnhancedCode [3]int

// SMTPError specifies the error code, enhanced error code (if any) and
// message returned by the server.
type SMTPError struct {
	Code         int
	EnhancedCode EnhancedCode
	Message      string
}

// NoEnhancedCode is used to indicate that enhanced error code should not be
// included in response.
//
// Note that RFC 2034 requires an enhanced code to be included in all 2xx, 4xx
// and 5xx responses. This constant is exported for use by extensions, you
// should probably use EnhancedCodeNotSet instead.
var NoEnhancedCode = EnhancedCode{-1, -1, -1}

// EnhancedCodeNotSet is a nil value of EnhancedCode field in SMTPError, used
// to indicate that backend failed to provide enhanced status code. X.0.0 will
// be used (X is derived from error code).
var EnhancedCodeNotSet = EnhancedCode{0, 0, 0}

func (err *SMTPError) Error() string {
	s := fmt.Sprintf("SMTP error %03d", err.Code)
	if err.Message != "" {
		s += ": " + err.Message
	}
	return s
}

func (err *SMTPError) Temporary() bool {
	return err.Code/100 == 4
}

var ErrDataTooLarge = &SMTPError{
	Code:         552,
	EnhancedCode: EnhancedCode{5, 3, 4},
	Message:      "Maximum message size exceeded",
}

type dataReader struct {
	r     *bufio.Reader
	state int

	limited bool
	n       int64 // Maximum bytes remaining
}

func newDataReader(c *Conn) *dataReader {
	dr := &dataReader{
		r: c.text.R,
	}

	if c.server.MaxMessageBytes > 0 {
		dr.limited = true
		dr.n = int64(c.server.MaxMessageBytes)
	}

	return dr
}

// The states of dataReader's machine, which elides leading dots and detects
// the End-of-Data (<CR><LF>.<CR><LF>) line. They are net/textproto's, with
// only one modification to not rewrite CRLF -> LF.
const (
	stateBeginLine = iota // beginning of line; initial state; must be zero
	stateDot              // read . at beginning of line
	stateDotCR            // read .\r at beginning of line
	stateCR               // read \r (possibly at end of line)
	stateData             // reading data in middle of line
	stateEOF              // reached .\r\n end marker line
)

// Read runs the same state machine as upstream's byte-at-a-time loop, with
// the same results for any input and any sequence of buffer sizes (the
// same bytes out of each call, the same bytes consumed from r.r, the same
// errors), but a block at a time: it works on the bytes r.r has buffered,
// copies the middle of each line up to its next CR with one copy, and
// steps byte by byte only around line ends.
func (r *dataReader) Read(b []byte) (n int, err error) {
	if r.limited {
		if r.n <= 0 {
			return 0, ErrDataTooLarge
		}
		if int64(len(b)) > r.n {
			b = b[0:r.n]
		}
	}

	for n < len(b) && r.state != stateEOF {
		if r.r.Buffered() == 0 {
			// Fill the buffer; an error comes back exactly where
			// ReadByte would have returned it.
			if _, err = r.r.Peek(1); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				break
			}
		}
		buf, _ := r.r.Peek(r.r.Buffered())
		i := 0
		for i < len(buf) && n < len(b) && r.state != stateEOF {
			if r.state == stateData {
				seg := buf[i:]
				if room := len(b) - n; len(seg) > room {
					seg = seg[:room]
				}
				var end int
				end, r.state = dataRun(seg)
				n += copy(b[n:], seg[:end])
				i += end
				continue
			}
			c := buf[i]
			i++
			switch r.state {
			case stateBeginLine:
				if c == '.' {
					r.state = stateDot
					continue
				}
				if c == '\r' {
					r.state = stateCR
					break
				}
				r.state = stateData
			case stateDot:
				if c == '\r' {
					r.state = stateDotCR
					continue
				}
				r.state = stateData
			case stateDotCR:
				if c == '\n' {
					r.state = stateEOF
					continue
				}
				r.state = stateData
			case stateCR:
				if c == '\n' {
					r.state = stateBeginLine
					break
				}
				r.state = stateData
			}
			b[n] = c
			n++
		}
		r.r.Discard(i)
	}
	if err == nil && r.state == stateEOF {
		err = io.EOF
	}

	if r.limited {
		r.n -= int64(n)
	}
	return
}

// dataRun returns how much of seg, read from stateData, passes through
// unchanged, and the state after it. From stateData, upstream's machine
// passes every byte through and comes back to stateData after "\r" and a
// byte other than "\n", and after "\r\n" and a byte other than "." or
// "\r"; only a "\r\n." or "\r\n\r" leaves it for longer. So the run goes
// from one CR to the next (bytes.IndexByte) until such a line start, or
// until seg ends, where it stops in the state upstream would be in.
func dataRun(seg []byte) (int, int) {
	j := 0
	for {
		k := bytes.IndexByte(seg[j:], '\r')
		if k < 0 {
			return len(seg), stateData
		}
		j += k + 1 // past the CR
		if j == len(seg) {
			return j, stateCR
		}
		if seg[j] != '\n' {
			j++ // stateCR, then stateData again
			continue
		}
		j++ // past the LF
		if j == len(seg) || seg[j] == '.' || seg[j] == '\r' {
			return j, stateBeginLine
		}
		j++ // the line's first byte: stateData again
	}
}
