package smtp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/ioutil"
	"math/rand"
	"strings"
	"testing"
)

// errNet stands for a connection's read error other than EOF (a timeout,
// a reset).
var errNet = errors.New("read: connection reset by peer")

// chunkedReader hands out data in the chunk sizes a seeded generator
// draws, as a TCP or TLS connection does, sometimes with nothing and
// sometimes with the final error together with the last bytes; after the
// data it returns final.
type chunkedReader struct {
	data    []byte
	rnd     *rand.Rand
	final   error
	errLate bool // the final error comes with the last bytes
}

func (c *chunkedReader) Read(b []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, c.final
	}
	k := 0
	switch c.rnd.Intn(8) {
	case 0:
		k = 0 // an empty read, as bufio tolerates up to a point
	case 1:
		k = 1
	case 2:
		k = len(b)
	default:
		k = 1 + c.rnd.Intn(2*len(b)+1)
	}
	if k > len(b) {
		k = len(b)
	}
	if k > len(c.data) {
		k = len(c.data)
	}
	n := copy(b, c.data[:k])
	c.data = c.data[n:]
	if len(c.data) == 0 && c.errLate {
		return n, c.final
	}
	return n, nil
}

// readStep is what one Read call returned.
type readStep struct {
	data string
	err  error
}

func (s readStep) String() string { return fmt.Sprintf("%q, %v", s.data, s.err) }

// dataCase is one run of the readers: the bytes on the connection, how
// they arrive, the limits and how the caller reads.
type dataCase struct {
	input     []byte
	maxBytes  int64 // 0: unlimited
	lineLimit int
	bufSize   int
	seed      int64
	final     error
	errLate   bool
	stopAfter int // Data reads this many times, then the server drains
}

// run reads c through one reader stack, the way Conn.handleData does: the
// backend reads with buffers of varying size (some empty) until an error or
// stopAfter reads, then the server lifts the size limit and drains to the
// end of the data. It returns every call's result, the bytes the next
// command would read and the line count left.
func (c dataCase) run(upstream bool) (steps []readStep, rest string, restErr error, lineCount int) {
	src := &chunkedReader{data: c.input, rnd: rand.New(rand.NewSource(c.seed)), final: c.final, errLate: c.errLate}
	var (
		ll   io.Reader
		dr   io.Reader
		lift func()
		left func() int
	)
	if upstream {
		l := &upstreamLineLimitReader{R: src, LineLimit: c.lineLimit}
		br := bufio.NewReaderSize(l, c.bufSize)
		d := &upstreamDataReader{r: br, limited: c.maxBytes > 0, n: c.maxBytes}
		ll, dr = br, d
		lift = func() { d.limited = false }
		left = func() int { return l.curLineLength }
	} else {
		l := &lineLimitReader{R: src, LineLimit: c.lineLimit}
		br := bufio.NewReaderSize(l, c.bufSize)
		d := &dataReader{r: br, limited: c.maxBytes > 0, n: c.maxBytes}
		ll, dr = br, d
		lift = func() { d.limited = false }
		left = func() int { return l.curLineLength }
	}
	sizes := rand.New(rand.NewSource(^c.seed))
	buf := make([]byte, 32<<10)
	read := func() readStep {
		var size int
		switch sizes.Intn(6) {
		case 0:
			size = 0
		case 1:
			size = 1
		case 2:
			size = 32 << 10
		default:
			size = sizes.Intn(300)
		}
		b := buf[:size]
		n, err := dr.Read(b)
		return readStep{string(b[:n]), err}
	}
	for i := 0; i < c.stopAfter; i++ {
		s := read()
		steps = append(steps, s)
		if s.err != nil {
			break
		}
	}
	lift()
	// The drain: io.Copy to ioutil.Discard, in upstream's conn.go.
	for i := 0; i < 1<<20; i++ {
		s := read()
		steps = append(steps, s)
		if s.err != nil {
			break
		}
	}
	restBytes, restErr := ioutil.ReadAll(ll)
	return steps, string(restBytes), restErr, left()
}

func checkSameAsUpstream(t *testing.T, c dataCase) {
	t.Helper()
	wantSteps, wantRest, wantRestErr, wantLeft := c.run(true)
	gotSteps, gotRest, gotRestErr, gotLeft := c.run(false)
	if len(gotSteps) != len(wantSteps) {
		t.Fatalf("%+v:\n%d reads, upstream %d:\n got %v\nwant %v", c, len(gotSteps), len(wantSteps), gotSteps, wantSteps)
	}
	for i := range wantSteps {
		if gotSteps[i] != wantSteps[i] {
			t.Fatalf("%+v: read %d returned %v, upstream %v", c, i, gotSteps[i], wantSteps[i])
		}
	}
	if gotRest != wantRest || gotRestErr != wantRestErr {
		t.Fatalf("%+v: left %q, %v for the next command, upstream %q, %v", c, gotRest, gotRestErr, wantRest, wantRestErr)
	}
	if gotLeft != wantLeft {
		t.Fatalf("%+v: line count left at %d, upstream %d", c, gotLeft, wantLeft)
	}
}

// dataSeeds are messages at the edges of DATA's syntax (RFC 5321 section
// 4.5.2): dot-stuffing, the end marker in odd places, bare CR and LF, long
// lines, and commands after the end.
var dataSeeds = []string{
	"Subject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n",
	".\r\n",
	"\r\n.\r\n",
	"..\r\n.\r\n",
	"..leading dot\r\n...two\r\n.\r\nRSET\r\n",
	".x\r\n.\r\n",
	"a\n.\nb\r\n.\r\n",
	"a\r\n.\nb\r\n.\r\n",
	"a\r\r\n.\r\nb\r\n.\r\n",
	"a\r\n.\rX\r\n.\r\n",
	"a\r\n.\r\r\n.\r\n",
	"a\r.\r\n\r\n.\r\n",
	"a\r\n.",
	"a\r\n.\r",
	"truncated",
	"",
	"\r",
	"\n",
	".",
	"a\x00b\r\n.\r\n",
	strings.Repeat("x", 1500) + "\r\n.\r\n",
	strings.Repeat("y", 3000) + "\r\n.\r\nQUIT\r\n",
	strings.Repeat("line of a message\r\n", 200) + ".\r\n",
	strings.Repeat(".\r\n", 3),
}

func FuzzDataReader(f *testing.F) {
	for i, s := range dataSeeds {
		f.Add([]byte(s), uint16(0), uint16(2000), uint16(4096), int64(i), uint8(0))
		f.Add([]byte(s), uint16(len(s)/2), uint16(1000), uint16(16), int64(i), uint8(i))
		f.Add([]byte(s), uint16(len(s)), uint16(16), uint16(17), int64(-i), uint8(0xff-i))
	}
	f.Fuzz(func(t *testing.T, input []byte, maxBytes, lineLimit, bufSize uint16, seed int64, flags uint8) {
		if len(input) > 64<<10 {
			input = input[:64<<10]
		}
		c := dataCase{
			input:     input,
			maxBytes:  int64(maxBytes),
			lineLimit: int(lineLimit%4096) - 8, // some negative, 0 (no limit), some tiny
			bufSize:   16 + int(bufSize%8192),
			seed:      seed,
			final:     io.EOF,
			errLate:   flags&1 != 0,
			stopAfter: int(flags >> 2),
		}
		if flags&2 != 0 {
			c.final = errNet
		}
		checkSameAsUpstream(t, c)
	})
}

// TestDataReaderLimits runs the seeds through every message size limit
// from 1 to past their length, and a few line limits and buffer sizes.
func TestDataReaderLimits(t *testing.T) {
	for i, s := range dataSeeds {
		for max := int64(0); max <= int64(len(s))+2 && max < 200; max++ {
			for _, lineLimit := range []int{0, 1, 5, 2000} {
				checkSameAsUpstream(t, dataCase{input: []byte(s), maxBytes: max, lineLimit: lineLimit,
					bufSize: 16 + int(max%5), seed: int64(i) + max, final: io.EOF, stopAfter: 1 << 20})
			}
		}
	}
}

// TestDataReaderEnds checks the block-wise reader against a few results
// stated outright, so that a change to both readers cannot pass unseen.
func TestDataReaderEnds(t *testing.T) {
	for _, tc := range []struct {
		in, out string
		err     error
	}{
		{"a\r\n..b\r\n.\r\nQUIT", "a\r\n.b\r\n", io.EOF},
		{"a\n.\nb\r\n.\r\n", "a\n.\nb\r\n", io.EOF},
		{"a\r\r\n.\r\nb\r\n.\r\n", "a\r\r\n.\r\nb\r\n", io.EOF},
		{"a\r\n.\rX\r\n.\r\n", "a\r\nX\r\n", io.EOF},
		{"a\r\nb", "a\r\nb", io.ErrUnexpectedEOF},
	} {
		r := &dataReader{r: bufio.NewReaderSize(strings.NewReader(tc.in), 16)}
		var got bytes.Buffer
		_, err := got.ReadFrom(r) // io.EOF ends ReadFrom with nil
		if got.String() != tc.out || (err == nil) != (tc.err == io.EOF) {
			t.Errorf("%q: read %q, %v; want %q, %v", tc.in, got.String(), err, tc.out, tc.err)
		}
	}
	r := &dataReader{r: bufio.NewReader(strings.NewReader("12345\r\n.\r\n")), limited: true, n: 7}
	if b, err := ioutil.ReadAll(r); string(b) != "12345\r\n" || err != ErrDataTooLarge {
		t.Errorf("a message of exactly the limit: read %q, %v; want the limit's bytes, then ErrDataTooLarge", b, err)
	}
}

// TestDataReaderRandom runs messages drawn from DATA's own alphabet (dots,
// CR, LF, NUL, text), where random bytes rarely form a line end, with
// random limits, chunking and reads.
func TestDataReaderRandom(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	alphabet := []byte(".\r\nab\x00.")
	for i := 0; i < 2000; i++ {
		in := make([]byte, rnd.Intn(3000))
		for j := range in {
			in[j] = alphabet[rnd.Intn(len(alphabet))]
		}
		c := dataCase{input: in, maxBytes: int64(rnd.Intn(4000)), lineLimit: rnd.Intn(4096) - 8,
			bufSize: 16 + rnd.Intn(8192), seed: rnd.Int63(), final: io.EOF, errLate: rnd.Intn(2) == 0, stopAfter: rnd.Intn(64)}
		if rnd.Intn(2) == 0 {
			c.final = errNet
		}
		checkSameAsUpstream(t, c)
	}
}
