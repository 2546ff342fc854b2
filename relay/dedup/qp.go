package dedup

import (
	"bufio"
	"bytes"
	"errors"
	"hash"
	"io"
)

// qpLine is the longest line hashQP decodes: mime/quotedprintable reads
// through a bufio.Reader of this size and fails on a longer line, and the
// fingerprint must fail the same way.
const qpLine = 4 << 10

// errQP is any quoted-printable content mime/quotedprintable refuses.
var errQP = errors.New("dedup: invalid quoted-printable content")

// qpPlain marks the bytes quoted-printable content passes through as they
// are: printable ASCII but '=', TAB, CR and LF, and (as an extension,
// as mime/quotedprintable allows) bytes of 0x80 and above.
var qpPlain = func() (t [256]bool) {
	for b := range 256 {
		t[b] = b == '\t' || b == '\r' || b == '\n' || (b >= ' ' && b <= '~' && b != '=') || b >= 0x80
	}
	return t
}()

// hashQP decodes the quoted-printable content of br (RFC 2045 section
// 6.7) into h and returns how many bytes it decoded. It decodes exactly as
// mime/quotedprintable's Reader does, with its leniencies (a test holds
// the two together, errors included: the bytes before an error are the
// same), but a run of plain bytes at a time rather than a byte at a time:
// this was most of what the fingerprint of a notification cost. buf
// collects the decoded bytes between writes to h; br must read through a
// buffer of qpLine bytes.
func hashQP(br *bufio.Reader, h hash.Hash, buf []byte) (int64, error) {
	out := buf[:0]
	var n int64
	flush := func() {
		h.Write(out)
		n += int64(len(out))
		out = buf[:0]
	}
	for {
		whole, err := br.ReadSlice('\n')
		// The line as mime/quotedprintable's Reader.Read makes it: white
		// space at its end goes; a soft line break ("=" at the end) goes
		// with it, a hard one comes back as it was written.
		line := bytes.TrimRight(whole, " \t\r\n")
		soft := bytes.HasSuffix(line, []byte("="))
		if soft {
			rest := bytes.TrimLeft(whole[len(line):], " \t")
			line = line[:len(line)-1]
			if !bytes.HasPrefix(rest, []byte("\n")) && !bytes.HasPrefix(rest, []byte("\r\n")) &&
				!(len(rest) == 0 && len(line) > 0 && err == io.EOF) {
				err = errQP // bytes other than white space after the =
			}
		}
		if len(out)+len(line)+2 > cap(out) {
			flush()
		}
		var ok bool
		if out, ok = appendQPLine(out, line); !ok {
			flush()
			return n, errQP
		}
		if !soft {
			switch {
			case bytes.HasSuffix(whole, []byte("\r\n")):
				out = append(out, '\r', '\n')
			case bytes.HasSuffix(whole, []byte("\n")):
				out = append(out, '\n')
			}
		}
		if err != nil {
			flush()
			if err == io.EOF {
				return n, nil
			}
			return n, err
		}
	}
}

// appendQPLine appends the decoded line to out; where mime/quotedprintable
// fails it returns false, having appended what it decoded before.
func appendQPLine(out, line []byte) ([]byte, bool) {
	for i := 0; i < len(line); {
		j := i
		for j < len(line) && qpPlain[line[j]] {
			j++
		}
		out = append(out, line[i:j]...)
		if j == len(line) {
			break
		}
		if line[j] != '=' {
			return out, false // an unescaped control byte
		}
		if hi, ok := unhex(line, j+1); ok {
			if lo, ok := unhex(line, j+2); ok {
				out = append(out, hi<<4|lo)
				i = j + 3
				continue
			}
		}
		if len(line)-j < 2 || line[j+1] == '\r' || line[j+1] == '\n' {
			return out, false
		}
		out = append(out, '=') // not an escape: a literal =
		i = j + 1
	}
	return out, true
}

// unhex is the value of the hex digit line[i], either case, if there is one.
func unhex(line []byte, i int) (byte, bool) {
	if i >= len(line) {
		return 0, false
	}
	switch b := line[i]; {
	case b >= '0' && b <= '9':
		return b - '0', true
	case b >= 'A' && b <= 'F':
		return b - 'A' + 10, true
	case b >= 'a' && b <= 'f':
		return b - 'a' + 10, true
	}
	return 0, false
}
