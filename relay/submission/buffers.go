package submission

import (
	"bufio"
	"io"

	"dkimrelay/internal/bufpool"
)

// dataBufferSize is the size of the buffer DATA reads a message through:
// large enough that a notification passes in one piece.
const dataBufferSize = 32 << 10

// newDataReaders is the pool of DATA's read buffers. (Ingest recycles the
// write side.)
func newDataReaders() *bufpool.Pool[*bufio.Reader, io.Reader] {
	return bufpool.New(func(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, dataBufferSize) })
}
