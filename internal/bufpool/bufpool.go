// Package bufpool recycles the large buffers a message streams through
// (bufio.Reader, bufio.Writer) from one message to the next, rather than
// allocating them per message for the garbage collector to reclaim.
package bufpool

import "sync"

// resetter is a buffer that can be pointed at a new source or destination
// S: *bufio.Reader with io.Reader, *bufio.Writer with io.Writer.
type resetter[S any] interface {
	Reset(S)
}

// Pool holds buffers of type B. It is safe for concurrent use.
type Pool[B resetter[S], S any] struct {
	make func(S) B
	pool sync.Pool
}

// New returns a pool that makes its buffers with make, e.g.
// func(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 32<<10) }.
func New[B resetter[S], S any](make func(S) B) *Pool[B, S] {
	return &Pool[B, S]{make: make}
}

// Get returns a buffer on src: a recycled one if there is one.
func (p *Pool[B, S]) Get(src S) B {
	if b, ok := p.pool.Get().(B); ok {
		b.Reset(src)
		return b
	}
	return p.make(src)
}

// Put recycles b, which must not be used again. Its source is dropped so
// that a pooled buffer holds on to no connection or file.
func (p *Pool[B, S]) Put(b B) {
	var none S
	b.Reset(none)
	p.pool.Put(b)
}
