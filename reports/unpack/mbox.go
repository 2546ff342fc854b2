package unpack

import (
	"bytes"
	"fmt"
)

// isMbox reports whether b is an mbox file: messages each introduced by a
// "From " line (RFC 4155).
func isMbox(b []byte) bool { return bytes.HasPrefix(b, []byte("From ")) }

// mbox splits an mbox file at its "From " lines and reads each message.
// A ">From " line (the mboxrd quoting) loses one '>'.
func (u *unpacker) mbox(b []byte) {
	var msgs [][]byte
	start := -1
	for off := 0; off < len(b); {
		end := bytes.IndexByte(b[off:], '\n')
		next := len(b)
		if end >= 0 {
			next = off + end + 1
		}
		if bytes.HasPrefix(b[off:], []byte("From ")) {
			if start >= 0 {
				msgs = append(msgs, b[start:off])
			}
			start = next
		}
		off = next
	}
	if start >= 0 && start <= len(b) {
		msgs = append(msgs, b[start:])
	}
	for i, m := range msgs {
		u.message(fmt.Sprintf("message %d", i+1), unquoteFrom(m), 0)
	}
}

func unquoteFrom(m []byte) []byte {
	if !bytes.Contains(m, []byte("\n>")) {
		return m
	}
	lines := bytes.SplitAfter(m, []byte("\n"))
	for i, l := range lines {
		t := bytes.TrimLeft(l, ">")
		if len(t) < len(l) && bytes.HasPrefix(t, []byte("From ")) {
			lines[i] = l[1:]
		}
	}
	return bytes.Join(lines, nil)
}
