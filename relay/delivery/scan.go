package delivery

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// content says which SMTP extensions a message body needs.
type content struct {
	// eightBit: some byte has the high bit set, so MAIL declares
	// BODY=8BITMIME when the server offers it (RFC 6152 section 3).
	eightBit bool
	// utf8Header: the header block holds raw UTF-8 (RFC 6532), so MAIL
	// declares SMTPUTF8 when the server offers it (RFC 6531 section 3.4).
	utf8Header bool
}

// smallMessage is the size up to which loadContent keeps a message in
// memory: most notifications are a few kilobytes, and serving them from
// memory saves opening and reading the spool file once more per
// transaction.
const smallMessage = 64 << 10

// signaturesRoom is what readSmall allows for the DKIM-Signature fields
// the queue adds to a message it opens.
const signaturesRoom = 2 << 10

// loadContent scans the message (see content) and returns the opener the
// transactions should use: one serving the bytes already read when the
// message is small, else open itself.
func loadContent(open func() (io.ReadCloser, error), sizeHint int64) (content, func() (io.ReadCloser, error), error) {
	rc, err := open()
	if err != nil {
		return content{}, nil, err
	}
	defer rc.Close()
	data, err := readSmall(rc, sizeHint)
	if err != nil {
		return content{}, nil, fmt.Errorf("reading queued message: %w", err)
	}
	if len(data) > smallMessage {
		c, err := scanContent(io.MultiReader(bytes.NewReader(data), rc), 32<<10)
		return c, open, err
	}
	c := scanBytes(data)
	return c, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, err
}

// readSmall reads r up to smallMessage+1 bytes. sizeHint, the size of
// the message as queued when known, sizes the buffer at once, with room
// for its DKIM-Signature fields, rather than in the steps of io.ReadAll
// (which for a notification made eight buffers, three times its size in
// all).
func readSmall(r io.Reader, sizeHint int64) ([]byte, error) {
	r = io.LimitReader(r, smallMessage+1)
	if sizeHint <= 0 || sizeHint > smallMessage {
		return io.ReadAll(r)
	}
	// Room for the message, its signatures (two take about 1.2 KB), and
	// the read that finds the end.
	b := bytes.NewBuffer(make([]byte, 0, sizeHint+signaturesRoom+bytes.MinRead))
	_, err := b.ReadFrom(r)
	return b.Bytes(), err
}

// scanBytes is scanContent of a message held in memory, without copying
// it through a buffer.
func scanBytes(data []byte) content {
	var c content
	inHeader := true
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line = data[:i+1]
		}
		data = data[len(line):]
		if c.see(line, &inHeader, true) {
			return c // nothing more to learn
		}
	}
	return c
}

// see takes in one line (or, for a line longer than the buffer, a piece
// of one: lineStart says whether it starts a line), ends the header at
// its empty line, and says whether all there is to learn is known.
func (c *content) see(line []byte, inHeader *bool, lineStart bool) (done bool) {
	if *inHeader && lineStart && (string(line) == "\r\n" || string(line) == "\n") {
		*inHeader = false
	}
	for _, b := range line {
		if b >= 0x80 {
			c.eightBit = true
			c.utf8Header = c.utf8Header || *inHeader
			break
		}
	}
	return c.eightBit && (c.utf8Header || !*inHeader)
}

// scanContent reads the message once, in bounded memory: a buffer of
// bufSize bytes (lines longer than that are looked at in pieces).
func scanContent(r io.Reader, bufSize int) (content, error) {
	var c content
	br := bufio.NewReaderSize(r, bufSize)
	inHeader, lineStart := true, true
	for {
		chunk, err := br.ReadSlice('\n')
		if c.see(chunk, &inHeader, lineStart) {
			return c, nil // nothing more to learn
		}
		lineStart = len(chunk) > 0 && chunk[len(chunk)-1] == '\n'
		switch err {
		case nil, bufio.ErrBufferFull:
		case io.EOF:
			return c, nil
		default:
			return c, fmt.Errorf("reading queued message: %w", err)
		}
	}
}
