// Package dotstuff writes a message as the DATA of an outgoing SMTP
// transaction: the relay's one egress encoding, used by delivery and held
// by the tests to what a strict receiver reads back.
package dotstuff

import (
	"bufio"
	"bytes"
)

// Writer writes a message as the DATA of RFC 5321 section 4.5.2: a
// period that starts a line is doubled (dot-stuffing), every line ends in
// CRLF (a bare LF gets its CR), and Close ends the data with CRLF "." CRLF.
//
// It does what net/textproto's DotWriter does, and a test holds the two to
// the same output (except after a bare CR, which DotWriter sometimes
// follows with another CR and which the spool never holds: the submission
// server refuses it), but a line at a time rather than a byte at a time: the
// spool's messages already end their lines in CRLF, so most of a message
// goes to the buffer in one copy per line, which matters for large ones.
type Writer struct {
	w         *bufio.Writer
	lineStart bool // the next byte begins a line
	prevCR    bool // the last byte written was a CR
	empty     bool // nothing written yet
}

// NewWriter returns a Writer that writes to w; Close flushes w.
func NewWriter(w *bufio.Writer) *Writer { return &Writer{w: w, lineStart: true, empty: true} }

// Write writes p, dot-stuffed, with every line ended in CRLF.
func (d *Writer) Write(p []byte) (int, error) {
	n := len(p)
	if n > 0 {
		d.empty = false
	}
	for len(p) > 0 {
		if d.lineStart && p[0] == '.' {
			d.w.WriteByte('.')
		}
		d.lineStart = false
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			d.w.Write(p)
			d.prevCR = p[len(p)-1] == '\r'
			break
		}
		cr := d.prevCR
		if i > 0 {
			cr = p[i-1] == '\r'
			d.w.Write(p[:i])
		}
		if !cr {
			d.w.WriteByte('\r')
		}
		d.w.WriteByte('\n')
		d.lineStart, d.prevCR = true, false
		p = p[i+1:]
	}
	// bufio.Writer's errors are sticky: the first one surfaces here or at
	// Close, and nothing after it reaches the connection.
	if _, err := d.w.Write(nil); err != nil {
		return 0, err
	}
	return n, nil
}

// Close ends the last line if it is open and writes the final ".", then
// flushes. An empty message is sent as one empty line, as net/textproto
// does.
func (d *Writer) Close() error {
	switch {
	case d.lineStart && !d.empty:
	case d.prevCR:
		d.w.WriteByte('\n')
	default:
		d.w.WriteString("\r\n")
	}
	d.w.WriteString(".\r\n")
	return d.w.Flush()
}
