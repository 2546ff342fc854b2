package unpack

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strconv"
	"strings"
)

// isMessage reports whether b starts with a mail header field (RFC 5322
// section 2.2: a name of printable characters but the colon, then ':').
func isMessage(b []byte) bool {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	name, _, ok := bytes.Cut(line, []byte(":"))
	if !ok || len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// message walks one mail message (RFC 5322) and the MIME parts in it.
func (u *unpacker) message(where string, b []byte, depth int) {
	m, err := mail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		u.fail(where, fmt.Errorf("not a readable mail message: %w", err))
		return
	}
	before := len(u.docs) + len(u.problems)
	u.entity(where, textproto.MIMEHeader(m.Header), m.Body, depth+1, true)
	if len(u.docs)+len(u.problems) == before {
		subject := m.Header.Get("Subject")
		u.fail(where, fmt.Errorf("no DMARC or TLS report attached to the message %q", subject))
	}
}

// entity handles one MIME entity (RFC 2045): a multipart is walked, a
// message/rfc822 (a forwarded report) is read as a message, and any other
// part is decoded and recognised by content. Text parts without a file
// name are the covering note of the report mail and are passed over.
func (u *unpacker) entity(where string, h textproto.MIMEHeader, body io.Reader, depth int, top bool) {
	if depth > u.lim.Depth {
		u.fail(where, fmt.Errorf("%w: MIME parts nested more than %d deep", ErrTooLarge, u.lim.Depth))
		return
	}
	ctype, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		ctype, params = "text/plain", nil
	}
	name := fileName(h, params)
	switch {
	case strings.HasPrefix(ctype, "multipart/"):
		u.multipart(where, params["boundary"], body, depth)
		return
	case ctype == "message/rfc822" || ctype == "message/global":
		b, err := u.decoded(h, body)
		if err != nil {
			u.fail(where, err)
			return
		}
		u.message(join(where, "forwarded message"), b, depth)
		return
	case strings.HasPrefix(ctype, "text/") && ctype != "text/xml" && name == "" && !top:
		return
	}
	b, err := u.decoded(h, body)
	if err != nil {
		u.fail(join(where, name), err)
		return
	}
	if top && strings.HasPrefix(ctype, "text/") && ctype != "text/xml" && name == "" {
		// A single-part text message: a report pasted inline, or none.
		t := bytes.TrimSpace(b)
		if !bytes.HasPrefix(t, []byte("<")) && !bytes.HasPrefix(t, []byte("{")) {
			return
		}
	}
	if name == "" {
		name = ctype
	}
	u.any(join(where, "attachment "+name), b, depth)
}

func (u *unpacker) multipart(where, boundary string, body io.Reader, depth int) {
	if boundary == "" {
		u.fail(where, errors.New("multipart message without a boundary"))
		return
	}
	mr := multipart.NewReader(body, boundary)
	for i := 1; ; i++ {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return
		}
		if err != nil {
			u.fail(where, fmt.Errorf("damaged MIME structure in part %d: %w", i, err))
			return
		}
		u.entity(where, p.Header, p, depth+1, false)
	}
}

// decoded reads a part's body and undoes its Content-Transfer-Encoding.
func (u *unpacker) decoded(h textproto.MIMEHeader, body io.Reader) ([]byte, error) {
	var r io.Reader
	switch cte := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))); cte {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &spaceless{r: bufio.NewReader(body)})
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "", "7bit", "8bit", "binary":
		r = body
	default:
		return nil, fmt.Errorf("unknown Content-Transfer-Encoding %q", cte)
	}
	b, err := io.ReadAll(io.LimitReader(r, u.lim.Input+1))
	if int64(len(b)) > u.lim.Input {
		return nil, fmt.Errorf("%w: an attachment larger than %d MiB", ErrTooLarge, u.lim.Input>>20)
	}
	if err != nil {
		return nil, fmt.Errorf("damaged attachment encoding: %w", err)
	}
	return b, nil
}

// fileName is the part's file name from Content-Disposition or the
// Content-Type name parameter, without any folder.
func fileName(h textproto.MIMEHeader, ctParams map[string]string) string {
	name := ctParams["name"]
	if _, p, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil && p["filename"] != "" {
		name = p["filename"]
	}
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	q := strconv.Quote(name) // control characters never reach a terminal
	return q[1 : len(q)-1]
}

// spaceless drops the line breaks and white space of base64 text, which
// encoding/base64 refuses except for CR and LF.
type spaceless struct{ r *bufio.Reader }

func (s *spaceless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c, err := s.r.ReadByte()
		if err != nil {
			return n, err
		}
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			continue
		}
		p[n] = c
		n++
	}
	return n, nil
}
