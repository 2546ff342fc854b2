package dkim

import (
	"io"
	"strings"
)

const crlf = "\r\n"

// Header is a message header block: its fields in order, each kept byte for
// byte as received (name, colon, value, folded continuation lines and the
// final CRLF), so that writing it back reproduces the input exactly.
//
// The zero Header is empty and ready to use. A Header is not safe for
// concurrent use.
type Header struct {
	fields []field
}

// field is one header field. raw always ends in CRLF.
type field struct {
	name string // as written, without the colon
	raw  string // "Name: value\r\n\tcontinued\r\n"
}

// value returns the unfolded value: RFC 5322 section 2.2.3 unfolding removes
// each CRLF that is followed by white space, and the white space that
// surrounds the value is not part of it.
func (f field) value() string {
	v := f.raw[len(f.name)+1 : len(f.raw)-len(crlf)]
	v = strings.ReplaceAll(v, crlf, "")
	return strings.Trim(v, " \t")
}

// Values returns the unfolded values of every field with the given name,
// compared case-insensitively (RFC 5322 section 1.2.2), in header order.
func (h *Header) Values(name string) []string {
	var vs []string
	for _, f := range h.fields {
		if strings.EqualFold(f.name, name) {
			vs = append(vs, f.value())
		}
	}
	return vs
}

// Count returns how many fields have the given name (case-insensitive).
func (h *Header) Count(name string) int {
	n := 0
	for _, f := range h.fields {
		if strings.EqualFold(f.name, name) {
			n++
		}
	}
	return n
}

// Has reports whether a field with the given name (case-insensitive) exists.
func (h *Header) Has(name string) bool {
	for _, f := range h.fields {
		if strings.EqualFold(f.name, name) {
			return true
		}
	}
	return false
}

// Add prepends a field "name: value" to the header block.
//
// Fields are added at the top, where trace and other fields added in
// transit conventionally go (RFC 5321 section 4.4), so the fields of the
// author's client stay together and in their order.
//
// White space around value is dropped, CR and LF in value are replaced by
// spaces so that a value can never end the field or start another one, and
// a long value is folded at white space to keep lines within 78 characters
// where possible (RFC 5322 section 2.1.1). Values returns value as given,
// apart from those changes. Add panics if name is not a valid field
// name (RFC 5322 section 2.2): names are chosen by the program, not by
// message content.
func (h *Header) Add(name, value string) {
	if reason := checkFieldName(name); reason != "" {
		panic("dkim: Header.Add: " + reason)
	}
	f := field{name: name, raw: formatField(name, value)}
	h.fields = append([]field{f}, h.fields...)
}

// Len returns the number of bytes WriteTo writes.
func (h *Header) Len() int {
	n := len(crlf)
	for _, f := range h.fields {
		n += len(f.raw)
	}
	return n
}

// WriteTo writes the fields and the empty line that ends the header block.
// It implements io.WriterTo.
func (h *Header) WriteTo(w io.Writer) (int64, error) {
	// One Write: the header is bounded by ReadHeader's limit, and a single
	// write is friendlier to an unbuffered spool file than one per field.
	b := make([]byte, 0, h.Len())
	for _, f := range h.fields {
		b = append(b, f.raw...)
	}
	b = append(b, crlf...)
	n, err := w.Write(b)
	return int64(n), err
}

// checkFieldName returns why name is not an RFC 5322 section 2.2 field name
// (1*ftext, ftext being printable US-ASCII except ":"), or "" if it is one.
func checkFieldName(name string) string {
	if name == "" {
		return "empty field name"
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 33 || c > 126 || c == ':' {
			return "field name " + quoteName(name) + " contains " + quoteByte(c) +
				"; names are printable US-ASCII without spaces or colons (RFC 5322 section 2.2)"
		}
	}
	return ""
}

// maxLine is the line length RFC 5322 section 2.1.1 asks writers to keep to.
const maxLine = 78

// formatField returns "name: value\r\n", folded at white space so that lines
// stay within maxLine characters when the value allows it. Folding only
// inserts CRLF before existing white space, so unfolding restores the value.
func formatField(name, value string) string {
	value = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, value)
	value = strings.Trim(value, " \t")

	var b strings.Builder
	b.WriteString(name)
	b.WriteString(": ")
	width := b.Len() // length of the current line so far
	rest := value
	for width+len(rest) > maxLine {
		i := foldPoint(rest, maxLine-width)
		if i < 0 {
			break
		}
		b.WriteString(rest[:i])
		b.WriteString(crlf)
		rest = rest[i:]
		width = 0
	}
	b.WriteString(rest)
	b.WriteString(crlf)
	return b.String()
}

// foldPoint returns the index of a white space byte in s before which a fold
// can go: the last one at or before limit, else the first one after it, or
// -1 if there is none. The text before the fold must contain something other
// than white space, since a line of only white space is obsolete syntax
// (RFC 5322 section 4.2) that some parsers take as the end of the header.
func foldPoint(s string, limit int) int {
	best := -1
	seenText := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != ' ' && c != '\t' {
			seenText = true
			continue
		}
		if !seenText {
			continue
		}
		if i <= limit || best < 0 {
			best = i
		}
		if i >= limit {
			break
		}
	}
	return best
}
