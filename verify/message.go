package verify

import (
	"bytes"
	"net"
	"net/mail"
	"regexp"
	"strings"
)

// field is one header field as received: its name and its raw text with
// continuation lines and the final CRLF.
type field struct {
	name string
	raw  string
}

// value is the field's value unfolded, without the name and colon.
func (f field) value() string {
	_, v, _ := strings.Cut(f.raw, ":")
	v = strings.ReplaceAll(v, "\r\n", "")
	return strings.TrimSpace(v)
}

// message is a received message split into its header fields and body,
// with CRLF line endings.
type message struct {
	fields []field
	body   []byte
}

// toCRLF makes every line end in CRLF: a message pasted from a mail
// client's "show original" usually comes with bare LF line endings, which
// the signer never saw (RFC 5322 section 2.1 lines end in CRLF).
func toCRLF(data []byte) []byte {
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
}

// parseMessage splits data (CRLF line endings) into header fields and
// body. A line before the blank line that is neither a field nor a
// continuation ends the header, as it would for a verifier.
func parseMessage(data []byte) *message {
	m := &message{}
	rest := data
	for len(rest) > 0 {
		i := bytes.Index(rest, []byte("\r\n"))
		line := rest
		if i >= 0 {
			line = rest[:i+2]
		}
		if i == 0 {
			rest = rest[2:]
			break
		}
		if (line[0] == ' ' || line[0] == '\t') && len(m.fields) > 0 {
			m.fields[len(m.fields)-1].raw += string(line)
		} else {
			name, _, ok := strings.Cut(string(line), ":")
			if !ok {
				break
			}
			m.fields = append(m.fields, field{name: strings.TrimSpace(name), raw: string(line)})
		}
		rest = rest[len(line):]
	}
	m.body = rest
	return m
}

// bytes is the message as it would be written, without the fields whose
// index is in skip.
func (m *message) bytes(skip int) []byte {
	var b bytes.Buffer
	for i, f := range m.fields {
		if i != skip {
			b.WriteString(f.raw)
		}
	}
	b.WriteString("\r\n")
	b.Write(m.body)
	return b.Bytes()
}

// first returns the value of the topmost field called name, "" when none.
func (m *message) first(name string) string {
	for _, f := range m.fields {
		if strings.EqualFold(f.name, name) {
			return f.value()
		}
	}
	return ""
}

// all returns the values of every field called name, top to bottom.
func (m *message) all(name string) []string {
	var out []string
	for _, f := range m.fields {
		if strings.EqualFold(f.name, name) {
			out = append(out, f.value())
		}
	}
	return out
}

// addressDomain returns the lower-case domain of an address as it stands in
// a From: or Return-Path: field ("Name <a@b>", "<a@b>", "a@b").
func addressDomain(v string) string {
	addr := v
	if a, err := mail.ParseAddress(v); err == nil {
		addr = a.Address
	} else {
		addr = strings.Trim(strings.TrimSpace(addr), "<>")
	}
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(strings.TrimSuffix(addr[i+1:], "."))
}

// returnPath is the envelope sender the receiver recorded (RFC 5321
// section 4.4), without angle brackets; "" for a null sender.
func (m *message) returnPath() (addr string, found bool) {
	for _, f := range m.fields {
		if strings.EqualFold(f.name, "Return-Path") {
			return strings.Trim(f.value(), "<> "), true
		}
	}
	return "", false
}

var (
	clientIPField = regexp.MustCompile(`(?i)client-ip=([0-9a-f:.]+)`)
	receivedIP    = regexp.MustCompile(`(?i)\[(?:ipv6:)?([0-9a-f:.]+)\]`)
)

// connectingIP guesses the address the message came from: the client-ip=
// of the receiver's Received-SPF field (RFC 7208 section 9.1), else the
// address in the topmost Received: field that names one, preferring a
// public address over the receiver's internal hops.
func (m *message) connectingIP() net.IP {
	for _, v := range m.all("Received-SPF") {
		if s := clientIPField.FindStringSubmatch(v); s != nil {
			if ip := net.ParseIP(s[1]); ip != nil {
				return ip
			}
		}
	}
	var fallback net.IP
	for _, v := range m.all("Received") {
		from, _, _ := strings.Cut(v, " by ")
		for _, s := range receivedIP.FindAllStringSubmatch(from, -1) {
			ip := net.ParseIP(s[1])
			if ip == nil {
				continue
			}
			if !ip.IsPrivate() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
				return ip
			}
			if fallback == nil {
				fallback = ip
			}
		}
	}
	return fallback
}
