package submission

import (
	"bufio"
	"io"
	"sync"
)

// dataBufferSize is the size of each of the two buffers DATA streams a
// message through: large enough that a notification passes in one piece.
const dataBufferSize = 32 << 10

// dataBuffers recycles DATA's read and write buffers from one message to
// the next, rather than allocating 64 KiB per message for the garbage
// collector to reclaim.
type dataBuffers struct {
	readers, writers sync.Pool
}

func (b *dataBuffers) reader(r io.Reader) *bufio.Reader {
	if br, ok := b.readers.Get().(*bufio.Reader); ok {
		br.Reset(r)
		return br
	}
	return bufio.NewReaderSize(r, dataBufferSize)
}

func (b *dataBuffers) writer(w io.Writer) *bufio.Writer {
	if bw, ok := b.writers.Get().(*bufio.Writer); ok {
		bw.Reset(w)
		return bw
	}
	return bufio.NewWriterSize(w, dataBufferSize)
}

// put returns the buffers, which must not be used again; either may be
// nil. Their sources are dropped so that a pooled buffer holds on to no
// connection or draft.
func (b *dataBuffers) put(br *bufio.Reader, bw *bufio.Writer) {
	if br != nil {
		br.Reset(nil)
		b.readers.Put(br)
	}
	if bw != nil {
		bw.Reset(nil)
		b.writers.Put(bw)
	}
}
