package queue

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// A message file, <qid>.msg, is the message as accepted followed by the
// trailer that commits it:
//
//	message bytes (record.Size) | record as JSON (n bytes) | footer
//
// The footer is trailerMagic, n as a big-endian uint32, and the CRC-32C
// (Castagnoli) of the record bytes as a big-endian uint32. The file is
// committed once it ends with a footer whose checksum matches its record,
// whose record names the file's queue ID and whose size adds up: record.Size
// + n + footerSize is the file's length. Anything else (no footer, a torn
// one, a checksum that does not match) is a file whose fsync never returned,
// so its message was never acknowledged.
//
// The record names the queue ID, 48 random bits the sender learns only in
// the 250 reply, after the message: a message cannot carry a footer that
// would pass for the trailer of a draft cut short by a crash.
const (
	trailerMagic = "dkrqtrl1"
	footerSize   = len(trailerMagic) + 4 + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errNoTrailer: the file does not end with a valid trailer; it is a draft
// that was never committed.
var errNoTrailer = errors.New("no valid trailer")

// appendTrailer appends r's trailer to dst.
func appendTrailer(dst []byte, r *record) ([]byte, error) {
	start := len(dst)
	dst, err := appendJSON(dst, r)
	if err != nil {
		return dst[:start], err
	}
	return appendFooter(dst, dst[start:]), nil
}

// appendFooter appends the footer of the record bytes rec to dst.
func appendFooter(dst, rec []byte) []byte {
	sum := crc32.Checksum(rec, castagnoli)
	dst = append(dst, trailerMagic...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(rec)))
	return binary.BigEndian.AppendUint32(dst, sum)
}

func appendJSON(dst []byte, r *record) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return dst, fmt.Errorf("queue: encoding envelope: %w", err)
	}
	return append(dst, b...), nil
}

// trailerRead is how much of the end of a message file readTrailer reads
// at first: the footer and, for all but huge envelopes, the record.
const trailerRead = 8 << 10

// readTrailer reads the record bytes of the message file at path into
// buf (returned, grown if it had to be) and returns them with the file's
// size. errNoTrailer says the file was never committed.
func readTrailer(path string, buf []byte) (rec []byte, size int64, out []byte, err error) {
	f, err := openFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, 0, buf, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, buf, err
	}
	size = fi.Size()
	if size < int64(footerSize) {
		return nil, 0, buf, errNoTrailer
	}
	tail := int(min(size, trailerRead))
	buf = grow(buf, tail)
	if _, err := f.ReadAt(buf[:tail], size-int64(tail)); err != nil {
		return nil, 0, buf, err
	}
	foot := buf[tail-footerSize : tail]
	if string(foot[:len(trailerMagic)]) != trailerMagic {
		return nil, 0, buf, errNoTrailer
	}
	n := int64(binary.BigEndian.Uint32(foot[len(trailerMagic):]))
	sum := binary.BigEndian.Uint32(foot[len(trailerMagic)+4:])
	if n > maxRecordSize || n+int64(footerSize) > size {
		return nil, 0, buf, errNoTrailer
	}
	var data []byte
	if n+int64(footerSize) <= int64(tail) {
		data = buf[tail-footerSize-int(n) : tail-footerSize]
	} else {
		buf = grow(buf, int(n))
		data = buf[:n]
		if _, err := f.ReadAt(data, size-int64(footerSize)-n); err != nil && err != io.EOF {
			return nil, 0, buf, err
		}
	}
	if crc32.Checksum(data, castagnoli) != sum {
		return nil, 0, buf, errNoTrailer
	}
	return data, size, buf, nil
}

// grow returns buf with a length of at least n.
func grow(buf []byte, n int) []byte {
	if cap(buf) < n {
		return make([]byte, n)
	}
	return buf[:n]
}

// trailerLen is the length of the file <qid>.msg that the record r was
// committed with, r being the decoded trailer of n bytes.
func trailerLen(r *record, n int) int64 { return r.Size + int64(n) + int64(footerSize) }
