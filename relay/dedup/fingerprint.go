// Package dedup recognises a message submitted again: the application's
// retry of a mail the relay already queued. A Fingerprint identifies a
// message by its login, envelope, Subject and content (not by Message-ID,
// Date or MIME boundaries, which a new render changes) and is computed
// while the message streams to the spool; an Index remembers the
// fingerprints accepted within the duplicate window, durably. See
// docs/deliverability.md, "Duplicate window".
package dedup

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"io"
	"mime"
	"mime/multipart"
	"slices"
	"strings"
	"sync"

	"dkimrelay/dkim"
)

// Key is a message's fingerprint.
type Key [sha256.Size]byte

// Identity is what, besides the content, makes two submissions the same
// message.
type Identity struct {
	User  string
	From  string
	Rcpts []string
}

// Fingerprint hashes a message's body as it is written to it. A
// multipart body (RFC 2046 section 5.1) is hashed part by part, decoded,
// so that a new boundary or a new encoding of the same content gives the
// same Key; any other body is hashed as it is. Memory stays bounded
// whatever the body's size. Sum, or Close on an error path, must be
// called once the body is written.
type Fingerprint struct {
	sum *fieldHash // identity, then the content
	raw hash.Hash  // the raw body: the content when it is not multipart or does not parse; a buffered body is added only when its walk fails

	// boundary is the multipart body's, "" for any other body. Its first
	// maxBuffered bytes are kept in buf and walked when the body ends;
	// past that, writes go through pw to a goroutine that walks the
	// parts as they come, and done carries its verdict.
	boundary string
	buf      []byte
	pooled   *[]byte // buf's origin in bodyBufs, while buf is held
	limit    int     // maxBuffered; tests lower it
	pw       *io.PipeWriter
	done     chan bool
}

// maxBuffered is how much of a multipart body is held to be walked at its
// end, without a goroutine: a notification fits in it.
const maxBuffered = 64 << 10

// NewFingerprint starts the fingerprint of a message from its identity and
// header; the body follows through Write.
func NewFingerprint(id Identity, h *dkim.Header) *Fingerprint {
	f := &Fingerprint{sum: &fieldHash{h: sha256.New()}, raw: sha256.New()}
	f.sum.field(strings.ToLower(id.User))
	f.sum.field(strings.ToLower(id.From))
	rcpts := make([]string, len(id.Rcpts))
	for i, r := range id.Rcpts {
		rcpts[i] = strings.ToLower(r)
	}
	slices.Sort(rcpts)
	rcpts = slices.Compact(rcpts)
	for _, r := range rcpts {
		f.sum.field(r)
	}
	f.sum.field(strings.Join(h.Values("Subject"), "\n"))

	ct := h.Values("Content-Type")
	if len(ct) == 1 {
		if mt, params, err := mime.ParseMediaType(ct[0]); err == nil && strings.HasPrefix(mt, "multipart/") && params["boundary"] != "" {
			f.sum.field(mt)
			f.boundary, f.limit = params["boundary"], maxBuffered
		}
	}
	return f
}

// Write hashes the next piece of the body. It never fails.
func (f *Fingerprint) Write(p []byte) (int, error) {
	if f.boundary == "" {
		f.raw.Write(p)
		return len(p), nil
	}
	if f.pw == nil {
		if len(f.buf)+len(p) <= f.limit {
			if f.buf == nil {
				f.pooled = bodyBufs.Get().(*[]byte)
				f.buf = (*f.pooled)[:0]
			}
			f.buf = append(f.buf, p...)
			return len(p), nil
		}
		f.startWalker()
	}
	f.raw.Write(p)
	// The walking goroutine drains whatever it cannot parse, so this
	// returns once p is consumed.
	_, _ = f.pw.Write(p)
	return len(p), nil
}

// startWalker walks the parts in a goroutine from here on, starting with
// what was buffered.
func (f *Fingerprint) startWalker() {
	pr, pw := io.Pipe()
	f.pw, f.done = pw, make(chan bool, 1)
	go func() {
		ok := walkParts(pr, f.boundary, f.sum, 0) == nil
		// Whatever the parts did, the writer must never block.
		_, _ = io.Copy(io.Discard, pr)
		f.done <- ok
	}()
	f.raw.Write(f.buf)
	_, _ = pw.Write(f.buf)
	f.releaseBuf()
}

// bodyBufs recycles the buffers multipart bodies are held in, from one
// message to the next.
var bodyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// releaseBuf gives the held body's buffer back.
func (f *Fingerprint) releaseBuf() {
	if f.pooled != nil {
		if cap(f.buf) <= f.limit {
			*f.pooled = f.buf[:0] // keep what it grew to, within the limit
		}
		bodyBufs.Put(f.pooled)
		f.pooled = nil
	}
	f.buf = nil
}

// Sum ends the body and returns the message's Key.
func (f *Fingerprint) Sum() Key {
	parsed := f.wait()
	if !parsed {
		f.sum.field("raw")
		f.sum.h.Write(f.raw.Sum(nil))
	}
	var k Key
	f.sum.h.Sum(k[:0])
	return k
}

// Close ends the body without a Key, for a message that is not queued.
func (f *Fingerprint) Close() { f.wait() }

func (f *Fingerprint) wait() (parsed bool) {
	switch {
	case f.boundary == "":
		return false
	case f.pw == nil:
		parsed = walkParts(bytes.NewReader(f.buf), f.boundary, f.sum, 0) == nil
		if !parsed {
			// Sum wants the raw body's hash: only now is it needed.
			f.raw.Write(f.buf)
		}
		f.releaseBuf()
		f.boundary = ""
		return parsed
	}
	f.pw.Close()
	f.pw, f.boundary = nil, ""
	return <-f.done
}

// maxDepth bounds the nesting of multiparts that is walked; deeper ones
// are hashed raw, as the part's bytes.
const maxDepth = 8

// walkParts hashes each part of a multipart body: its media type, its
// charset and file name, and its content decoded from quoted-printable or
// base64. Preamble and epilogue are not
// content (RFC 2046 section 5.1.1).
func walkParts(r io.Reader, boundary string, sum *fieldHash, depth int) error {
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	return walk(r, boundary, sum, depth, *buf)
}

// qpReaders recycles the read buffers of the quoted-printable decoder.
var qpReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, qpLine) }}

// copyBufs recycles the buffers walk copies the parts' contents through.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 4<<10); return &b }}

// walk is walkParts with a copy buffer for the parts' contents.
func walk(r io.Reader, boundary string, sum *fieldHash, depth int, buf []byte) error {
	mr := multipart.NewReader(r, boundary)
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			sum.field("end")
			return nil
		}
		if err != nil {
			return err
		}
		mt, params, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if mt == "" {
			mt = "text/plain" // RFC 2045 section 5.2
		}
		_, disp, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
		sum.field("part")
		sum.field(mt)
		sum.field(strings.ToLower(params["charset"]))
		sum.field(disp["filename"] + "\x00" + params["name"])
		if strings.HasPrefix(mt, "multipart/") && params["boundary"] != "" && depth < maxDepth {
			if err := walk(p, params["boundary"], sum, depth+1, buf); err != nil {
				return err
			}
			continue
		}
		var n int64
		switch strings.ToLower(strings.TrimSpace(p.Header.Get("Content-Transfer-Encoding"))) {
		case "base64":
			content := base64.NewDecoder(base64.StdEncoding, &lineSkipper{r: p})
			n, err = io.CopyBuffer(struct{ io.Writer }{sum.h}, struct{ io.Reader }{content}, buf)
		case "quoted-printable":
			br := qpReaders.Get().(*bufio.Reader)
			br.Reset(p)
			n, err = hashQP(br, sum.h, buf[:0])
			br.Reset(nil)
			qpReaders.Put(br)
		default:
			n, err = io.CopyBuffer(struct{ io.Writer }{sum.h}, struct{ io.Reader }{p}, buf)
		}
		if err != nil {
			return err
		}
		sum.length(n)
	}
}

// fieldHash is a hash written in fields, with room to make each one's
// bytes without an allocation.
type fieldHash struct {
	h   hash.Hash
	buf [8 + 64]byte
}

// field hashes s with its length, so that no two sequences of fields
// hash alike.
func (f *fieldHash) field(s string) {
	binary.BigEndian.PutUint64(f.buf[:8], uint64(len(s)))
	if len(s) <= len(f.buf)-8 {
		n := copy(f.buf[8:], s)
		f.h.Write(f.buf[:8+n])
		return
	}
	f.h.Write(f.buf[:8])
	io.WriteString(f.h, s)
}

func (f *fieldHash) length(n int64) {
	binary.BigEndian.PutUint64(f.buf[:8], uint64(n))
	f.h.Write(f.buf[:8])
}

// lineSkipper drops the spaces and tabs some encoders leave at the end of
// base64 lines; the base64 decoder skips CR and LF itself.
type lineSkipper struct{ r io.Reader }

func (l *lineSkipper) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	j := 0
	for _, c := range p[:n] {
		if c != ' ' && c != '\t' {
			p[j] = c
			j++
		}
	}
	return j, err
}
