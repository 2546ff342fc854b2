package queue

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

// crockford is Crockford's base32 alphabet: digits and upper-case letters
// without I, L, O and U, so an ID survives being read aloud or retyped.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// idLen is the length of a queue ID: 96 bits (a 48-bit millisecond
// timestamp, then 48 random bits) in 20 base32 digits.
const idLen = 20

// newID returns a fresh queue ID. IDs sort by creation time to the
// millisecond, which keeps `ls` of the queue folder and the logs in
// arrival order; the random half makes two IDs of the same millisecond
// differ (and NewDraft's O_EXCL catches the 2^-48 case that they do not).
func newID(now time.Time) (string, error) {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		return "", err
	}
	return encodeID(b), nil
}

// encodeID writes 96 bits as 20 base32 digits, most significant first,
// after 4 leading zero bits.
func encodeID(b [12]byte) string {
	var out [idLen]byte
	for i := range out {
		var v byte
		for j := range 5 {
			v <<= 1
			if pos := i*5 + j - 4; pos >= 0 && b[pos/8]&(0x80>>(pos%8)) != 0 {
				v |= 1
			}
		}
		out[i] = crockford[v]
	}
	return string(out[:])
}

// ValidID reports whether s has the form of a queue ID. Every ID that comes
// from outside (the control socket, the command line) is checked with it
// before it becomes part of a file name, so "../x" and the like never reach
// the file system.
func ValidID(s string) bool {
	if len(s) != idLen || s[0] > '1' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isCrockford(s[i]) {
			return false
		}
	}
	return true
}

func isCrockford(c byte) bool {
	switch {
	case c >= '0' && c <= '9':
		return true
	case c >= 'A' && c <= 'Z':
		return c != 'I' && c != 'L' && c != 'O' && c != 'U'
	}
	return false
}
