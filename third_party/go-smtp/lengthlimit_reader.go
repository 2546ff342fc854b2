package smtp

import (
	"bytes"
	"errors"
	"io"
)

var ErrTooLongLine = errors.New("smtp: too long a line in input stream")

// lineLimitReader reads from the underlying Reader but restricts
// line length of lines in input stream to a certain length.
//
// If line length exceeds the limit - Read returns ErrTooLongLine
type lineLimitReader struct {
	R         io.Reader
	LineLimit int

	curLineLength int
}

func (r *lineLimitReader) Read(b []byte) (int, error) {
	if r.curLineLength > r.LineLimit && r.LineLimit > 0 {
		return 0, ErrTooLongLine
	}

	n, err := r.R.Read(b)
	if err != nil {
		return n, err
	}

	if r.LineLimit == 0 {
		return n, nil
	}

	// Upstream counts byte by byte: a LF sets the count to 1 (the LF
	// itself), every other byte adds 1, and the first byte that takes the
	// count over LineLimit fails the read. This does the same a line at a
	// time.
	p := b[:n]
	for len(p) > 0 {
		end := bytes.IndexByte(p, '\n')
		text := len(p)
		if end >= 0 {
			text = end
		}
		if text > 0 && r.curLineLength+text > r.LineLimit {
			// Where upstream's count stops: at the first byte over.
			if r.curLineLength+1 > r.LineLimit {
				r.curLineLength++
			} else {
				r.curLineLength = r.LineLimit + 1
			}
			return 0, ErrTooLongLine
		}
		r.curLineLength += text
		if end < 0 {
			break
		}
		r.curLineLength = 1
		if r.curLineLength > r.LineLimit {
			return 0, ErrTooLongLine
		}
		p = p[end+1:]
	}

	return n, nil
}
