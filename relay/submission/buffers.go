package submission

import (
	"bufio"
	"io"
	"sync"
)

// dataBufferSize is the size of the buffer DATA reads a message through:
// large enough that a notification passes in one piece.
const dataBufferSize = 32 << 10

// dataBuffers recycles DATA's read buffers from one message to the next,
// rather than allocating 32 KiB per message for the garbage collector to
// reclaim. (Ingest recycles the write side.)
type dataBuffers struct {
	readers sync.Pool
}

func (b *dataBuffers) reader(r io.Reader) *bufio.Reader {
	if br, ok := b.readers.Get().(*bufio.Reader); ok {
		br.Reset(r)
		return br
	}
	return bufio.NewReaderSize(r, dataBufferSize)
}

// put returns a buffer, which must not be used again. Its source is
// dropped so that a pooled buffer holds on to no connection.
func (b *dataBuffers) put(br *bufio.Reader) {
	br.Reset(nil)
	b.readers.Put(br)
}
