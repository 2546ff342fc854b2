package submission

import (
	"bufio"
	"io"

	"dkimrelay/internal/bufpool"
)

// dataBufferSize is the size of the buffer DATA reads a message through:
// large enough that a notification passes in one piece.
const dataBufferSize = 32 << 10

// messageReader is DATA's read side: the line checks over go-smtp's DATA
// reader, and the buffer the header and body are read from over them.
// Both are recycled together from one message to the next (newDataReaders),
// so that a message allocates neither.
type messageReader struct {
	strict strictReader
	buf    *bufio.Reader // reads through strict
}

// Reset points the reader at a new message's DATA stream, r, with fresh
// checks; a nil r leaves it holding on to no connection.
func (m *messageReader) Reset(r io.Reader) {
	m.strict = strictReader{r: r}
	m.buf.Reset(&m.strict)
}

// newDataReaders is the pool of DATA's readers. (Ingest recycles the
// write side.)
func newDataReaders() *bufpool.Pool[*messageReader, io.Reader] {
	return bufpool.New(func(r io.Reader) *messageReader {
		m := &messageReader{strict: strictReader{r: r}}
		m.buf = bufio.NewReaderSize(&m.strict, dataBufferSize)
		return m
	})
}
