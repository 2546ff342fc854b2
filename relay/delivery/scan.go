package delivery

import (
	"bufio"
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

// scanContent reads the message once, in bounded memory.
func scanContent(open func() (io.ReadCloser, error)) (content, error) {
	var c content
	rc, err := open()
	if err != nil {
		return c, err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 32<<10)
	inHeader, lineStart := true, true
	for {
		chunk, err := br.ReadSlice('\n')
		if inHeader && lineStart && (string(chunk) == "\r\n" || string(chunk) == "\n") {
			inHeader = false
		}
		for _, b := range chunk {
			if b >= 0x80 {
				c.eightBit = true
				c.utf8Header = c.utf8Header || inHeader
				break
			}
		}
		if c.eightBit && (c.utf8Header || !inHeader) {
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
