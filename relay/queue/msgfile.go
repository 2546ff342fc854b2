package queue

import (
	"encoding/binary"
	"hash/crc32"
)

// The two functions below give tools that copy queued messages
// (bench/bigqueue) the layout of a <qid>.msg without a second copy of it:
// the message, its record as JSON, then the footer (trailer.go).

// SplitMessageFile splits the bytes of a committed <qid>.msg into the
// message and its record, checking the footer as Open does; ok is false
// when the file has no valid trailer (it was never committed).
func SplitMessageFile(b []byte) (msg, rec []byte, ok bool) {
	if len(b) < footerSize {
		return nil, nil, false
	}
	foot := b[len(b)-footerSize:]
	if string(foot[:len(trailerMagic)]) != trailerMagic {
		return nil, nil, false
	}
	n := int(binary.BigEndian.Uint32(foot[len(trailerMagic):]))
	sum := binary.BigEndian.Uint32(foot[len(trailerMagic)+4:])
	if n > len(b)-footerSize {
		return nil, nil, false
	}
	rec = b[len(b)-footerSize-n : len(b)-footerSize]
	if crc32.Checksum(rec, castagnoli) != sum {
		return nil, nil, false
	}
	return b[:len(b)-footerSize-n], rec, true
}

// AppendMessageFile appends to dst the bytes of a <qid>.msg holding msg
// and the record rec (the JSON the queue wrote, its queue ID as the file's
// name says).
func AppendMessageFile(dst, msg, rec []byte) []byte {
	return appendFooter(append(append(dst, msg...), rec...), rec)
}
