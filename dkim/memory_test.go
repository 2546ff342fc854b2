package dkim

import (
	"io"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// TestSignLargeBodyBoundedMemory streams a 50 MB body through the signer
// with both key types and checks that the heap never grows by anything like
// the body's size. The heap is sampled with runtime/metrics, which does not
// stop the world; the bound (16 MB) sits far below the body (50 MB), and
// far above what streaming needs (a few pipe and bufio buffers plus garbage
// the collector has not yet freed), so the test is not sensitive to timing.
func TestSignLargeBodyBoundedMemory(t *testing.T) {
	const (
		bodySize  = 50 << 20
		maxGrowth = 16 << 20
	)
	keys := []Key{ed25519TestKey(t), rsaTestKey(t)}
	h := readTestHeader(t, testMessage)

	runtime.GC()
	base := heapObjectBytes()

	var (
		mu   sync.Mutex
		peak uint64
	)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				v := heapObjectBytes()
				mu.Lock()
				peak = max(peak, v)
				mu.Unlock()
			}
		}
	}()

	s, err := NewSigner(keys, h)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(s, &bodyGenerator{left: bodySize})
	if err != nil || n != bodySize {
		t.Fatalf("copied %d bytes: %v", n, err)
	}
	sigs, err := s.Sign()
	if err != nil {
		t.Fatal(err)
	}
	close(stop)
	<-sampled
	if v := heapObjectBytes(); v > peak {
		peak = v
	}
	if len(sigs) != 2 {
		t.Fatalf("%d signatures", len(sigs))
	}
	growth := int64(peak) - int64(base)
	t.Logf("heap: base %d KB, peak %d KB, growth %d KB for a %d MB body", base>>10, peak>>10, growth>>10, bodySize>>20)
	if growth > maxGrowth {
		t.Errorf("the heap grew by %d MB while signing a %d MB body; the body is being buffered", growth>>20, bodySize>>20)
	}
}

// bodyGenerator produces left bytes of text lines without holding them:
// each Read fills the caller's buffer.
type bodyGenerator struct {
	left int
	pos  int
}

const generatorLine = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\r\n"

func (g *bodyGenerator) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	p = p[:min(len(p), g.left)]
	for i := range p {
		p[i] = generatorLine[g.pos]
		g.pos = (g.pos + 1) % len(generatorLine)
	}
	g.left -= len(p)
	return len(p), nil
}

func heapObjectBytes() uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	return sample[0].Value.Uint64()
}
