package unpack

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// take reads r into memory, charging what it reads to the budget.
func (u *unpacker) take(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, u.budget+1))
	if int64(len(b)) > u.budget {
		u.budget = 0
		return nil, fmt.Errorf("%w: decompresses to more than %d MiB", ErrTooLarge, u.lim.Expanded>>20)
	}
	u.budget -= int64(len(b))
	return b, err
}

// gzip decompresses gzip data (RFC 1952): one member, or several written
// one after the other. Bytes after the last member that do not start
// another (padding some tools add) are ignored.
func (u *unpacker) gzip(where string, b []byte, depth int) {
	br := bytes.NewReader(b)
	zr, err := gzip.NewReader(br)
	if err != nil {
		u.fail(where, fmt.Errorf("damaged gzip data: %w", err))
		return
	}
	var out []byte
	for {
		zr.Multistream(false)
		member, err := u.take(zr)
		if errors.Is(err, ErrTooLarge) {
			u.fail(where, err)
			return
		}
		if err != nil {
			u.fail(where, fmt.Errorf("damaged gzip data: %w", err))
			return
		}
		out = append(out, member...)
		rest := b[len(b)-br.Len():]
		if !bytes.HasPrefix(rest, []byte{0x1f, 0x8b}) {
			break
		}
		if err := zr.Reset(br); err != nil {
			u.fail(where, fmt.Errorf("damaged gzip data: %w", err))
			return
		}
	}
	u.any(where, out, depth+1)
}

// zip reads each file of a zip archive. Reporters send one XML file per
// archive; a few more are accepted.
func (u *unpacker) zip(where string, b []byte, depth int) {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		u.fail(where, fmt.Errorf("damaged zip archive: %w", err))
		return
	}
	n := 0
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		n++
		name := join(where, f.Name)
		if n > u.lim.Members {
			u.fail(where, fmt.Errorf("%w: more than %d files in the zip archive", ErrTooLarge, u.lim.Members))
			return
		}
		if f.UncompressedSize64 > uint64(u.budget) {
			u.fail(name, fmt.Errorf("%w: decompresses to more than %d MiB", ErrTooLarge, u.lim.Expanded>>20))
			return
		}
		rc, err := f.Open()
		if err != nil {
			u.fail(name, fmt.Errorf("damaged zip archive: %w", err))
			continue
		}
		out, err := u.take(rc)
		rc.Close()
		if errors.Is(err, ErrTooLarge) {
			u.fail(name, err)
			return
		}
		if err != nil {
			u.fail(name, fmt.Errorf("damaged zip archive: %w", err))
			continue
		}
		u.any(name, out, depth+1)
	}
}
