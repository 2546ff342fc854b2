// Package unpack finds the DMARC aggregate reports and TLS reports in what
// arrives at a rua= address: bare XML or JSON, gzip and zip archives, mail
// messages carrying them as attachments (RFC 7489 section 7.2.1.1, RFC 8460
// section 5.3), and mbox files of such messages.
//
// The kind of each piece is recognised from its content, not from its name
// or declared type, which reporters get wrong (application/octet-stream for
// a zip, .xml for a gzip file). Every byte produced by decompression counts
// against one budget per input, so a zip or gzip bomb stops at the limit
// instead of filling memory.
package unpack

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"dkimrelay/reports/dmarcrpt"
	"dkimrelay/reports/tlsrpt"
)

// Limits bound the work done for one input.
type Limits struct {
	// Input is the largest input read (file, message, standard input).
	Input int64
	// Expanded is the total of all bytes decompressed from one input.
	Expanded int64
	// Members is the largest number of files read from one zip archive.
	Members int
	// Depth is how deep archives and messages may nest.
	Depth int
}

// DefaultLimits are generous for real reports: the largest daily reports
// of the big receivers are a few megabytes uncompressed.
var DefaultLimits = Limits{Input: 64 << 20, Expanded: 64 << 20, Members: 16, Depth: 6}

// Document is one report found.
type Document struct {
	// Where names where the report was found inside the input, such as
	// "attachment report.zip, google.com!example.org!1!2.xml"; empty for
	// a bare report.
	Where string
	// Exactly one of DMARC and TLS is set.
	DMARC *dmarcrpt.Feedback
	TLS   *tlsrpt.Report
}

// ErrTooLarge means a limit was reached.
var ErrTooLarge = errors.New("over the size limit")

// ErrUnknown means the content is none of the formats reports come in.
var ErrUnknown = errors.New("neither a DMARC report (XML), a TLS report (JSON), a gzip or zip archive nor a mail message")

// Problem is a piece of the input that could not be used.
type Problem struct {
	Where string
	Err   error
}

func (p Problem) Error() string {
	if p.Where == "" {
		return p.Err.Error()
	}
	return p.Where + ": " + p.Err.Error()
}

func (p Problem) Unwrap() error { return p.Err }

// Read reads one input up to lim.Input bytes and unpacks it.
func Read(r io.Reader, lim Limits) ([]Document, []Problem) {
	b, err := io.ReadAll(io.LimitReader(r, lim.Input+1))
	if err != nil {
		return nil, []Problem{{Err: fmt.Errorf("reading: %w", err)}}
	}
	if int64(len(b)) > lim.Input {
		return nil, []Problem{{Err: fmt.Errorf("%w: larger than %d MiB", ErrTooLarge, lim.Input>>20)}}
	}
	return Bytes(b, lim)
}

// Bytes unpacks one input held in memory: the reports found, and a
// problem for each part that could not be used. An input that yields no
// report yields at least one problem.
func Bytes(b []byte, lim Limits) ([]Document, []Problem) {
	u := &unpacker{lim: lim, budget: lim.Expanded}
	if isMbox(b) {
		u.mbox(b)
	} else {
		u.any("", b, 0)
	}
	if len(u.docs) == 0 && len(u.problems) == 0 {
		u.problems = append(u.problems, Problem{Err: errors.New("no DMARC or TLS report in it")})
	}
	return u.docs, u.problems
}

type unpacker struct {
	lim      Limits
	budget   int64
	docs     []Document
	problems []Problem
}

func (u *unpacker) fail(where string, err error) {
	u.problems = append(u.problems, Problem{Where: where, Err: err})
}

// any recognises b by its first bytes and hands it on.
func (u *unpacker) any(where string, b []byte, depth int) {
	if depth > u.lim.Depth {
		u.fail(where, fmt.Errorf("%w: archives and messages nested more than %d deep", ErrTooLarge, u.lim.Depth))
		return
	}
	t := bytes.TrimLeft(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), " \t\r\n")
	switch {
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		u.gzip(where, b, depth)
	case bytes.HasPrefix(b, []byte("PK\x03\x04")), bytes.HasPrefix(b, []byte("PK\x05\x06")):
		u.zip(where, b, depth)
	case bytes.HasPrefix(t, []byte("<")):
		f, err := dmarcrpt.ParseBytes(b)
		if err != nil {
			u.fail(where, err)
			return
		}
		u.docs = append(u.docs, Document{Where: where, DMARC: f})
	case bytes.HasPrefix(t, []byte("{")):
		r, err := tlsrpt.ParseBytes(b)
		if err != nil {
			u.fail(where, err)
			return
		}
		u.docs = append(u.docs, Document{Where: where, TLS: r})
	case isMessage(b):
		u.message(where, b, depth)
	default:
		u.fail(where, ErrUnknown)
	}
}

// join names a part inside where.
func join(where, part string) string {
	if where == "" {
		return part
	}
	return where + ", " + part
}
