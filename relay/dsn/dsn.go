// Package dsn writes bounce messages: delivery status notifications as
// defined by RFC 3464, in the multipart/report container of RFC 6522.
//
// A bounce carries three parts: a text for the person who sent the message,
// the machine-readable message/delivery-status report, and the header block
// of the original message (never its body: the sender has the body, and
// returning it would make the relay a reflector for large messages).
package dsn

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"mime/multipart"
	"net/textproto"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultMaxHeaderBytes bounds the original header block copied into a
// bounce.
const DefaultMaxHeaderBytes = 64 << 10

// Failure is one recipient the message could not be delivered to.
type Failure struct {
	Rcpt string
	// Status is the RFC 3463 enhanced status code, e.g. "5.1.1". Empty or
	// malformed: "4.4.7" when Expired, else "5.0.0".
	Status string
	// Reply is the remote reply or local reason as delivery reports it,
	// e.g. "mx1.example.net said: 550 5.1.1 no such user".
	Reply string
	// RemoteMTA is the host that gave Reply; empty when none answered.
	RemoteMTA string
	// Expired is set when the message lifetime ran out while the failure
	// was still temporary.
	Expired bool
}

// Bounce is one delivery status notification for one queued message.
type Bounce struct {
	ReportingMTA string // this relay's hostname
	From         string // default MAILER-DAEMON@ReportingMTA
	To           string // the original envelope sender
	QID          string
	Arrival      time.Time
	Failures     []Failure

	// The fields below are normally left zero; tests set them to get
	// reproducible output.

	Date           time.Time // default: now
	MessageID      string    // with angle brackets; default: random @ReportingMTA
	Boundary       string    // default: random
	MaxHeaderBytes int       // bound on the copied header block; default DefaultMaxHeaderBytes
}

// ShouldBounce reports whether a failure notice may be sent to from. It is
// false for the null reverse-path (RFC 5321 section 4.5.5: a bounce is
// itself sent with a null sender and must never be bounced) and for
// MAILER-DAEMON-style addresses that could not usefully receive one and
// could start a loop (RFC 3464 section 2).
func ShouldBounce(from string) bool {
	from = strings.TrimSpace(from)
	from = strings.TrimSuffix(strings.TrimPrefix(from, "<"), ">")
	if from == "" {
		return false
	}
	local := from
	if i := strings.LastIndexByte(from, '@'); i >= 0 {
		local = from[:i]
	}
	switch strings.ToLower(local) {
	case "mailer-daemon", "mailer_daemon", "mailerdaemon", "double-bounce":
		return false
	}
	return true
}

// WriteTo writes the complete bounce message (RFC 5322, CRLF line endings)
// to w. original supplies the original message; only its header block is
// read, up to MaxHeaderBytes. original may be nil.
func (b *Bounce) WriteTo(w io.Writer, original io.Reader) error {
	if b.ReportingMTA == "" || b.To == "" || len(b.Failures) == 0 {
		return fmt.Errorf("dsn: bounce needs ReportingMTA, To and at least one failure")
	}
	var headers []byte
	if original != nil {
		var err error
		max := b.MaxHeaderBytes
		if max <= 0 {
			max = DefaultMaxHeaderBytes
		}
		if headers, err = headerBlock(original, max); err != nil {
			return fmt.Errorf("dsn: reading original headers: %w", err)
		}
	}
	date := b.Date
	if date.IsZero() {
		date = time.Now()
	}
	msgID := b.MessageID
	if msgID == "" {
		msgID = "<" + randomHex(12) + "@" + b.ReportingMTA + ">"
	}
	boundary := b.Boundary
	if boundary == "" {
		boundary = "=_dsn_" + randomHex(12)
	}
	from := b.From
	if from == "" {
		from = "MAILER-DAEMON@" + b.ReportingMTA
	}

	bw := bufio.NewWriter(w)
	mw := multipart.NewWriter(bw)
	if err := mw.SetBoundary(boundary); err != nil {
		return fmt.Errorf("dsn: boundary %q: %w", boundary, err)
	}
	// When an address needs UTF-8 the report is
	// message/global-delivery-status (RFC 6533 section 6.2), and
	// report-type names the report part's subtype (RFC 6522 section 3).
	reportType := "delivery-status"
	if !isASCII(b.To) || b.anyUTF8Rcpt() {
		reportType = "global-delivery-status"
	}

	// Top-level header. Auto-Submitted keeps auto-responders from
	// answering the bounce (RFC 3834 section 5).
	hdr := []string{
		"From: Mail Delivery System <" + clean(from) + ">",
		"To: <" + clean(b.To) + ">",
		"Subject: Undelivered Mail Returned to Sender",
		"Date: " + date.Format(time.RFC1123Z),
		"Message-ID: " + clean(msgID),
		"Auto-Submitted: auto-replied",
		"MIME-Version: 1.0",
		"Content-Type: multipart/report; report-type=" + reportType + ";\r\n\t" + `boundary="` + boundary + `"`,
	}
	for _, line := range hdr {
		bw.WriteString(line + "\r\n")
	}
	bw.WriteString("\r\nThis is a MIME-encapsulated message.\r\n\r\n")

	// 1. The explanation for a person (RFC 6522 section 3).
	text := b.humanText(date)
	cte := "7bit"
	if !isASCII(text) {
		cte = "8bit"
	}
	part, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {"text/plain; charset=utf-8"},
		"Content-Transfer-Encoding": {cte},
		"Content-Description":       {"Notification"},
	})
	if err != nil {
		return err
	}
	io.WriteString(part, text)

	// 2. The machine-readable report (RFC 3464 section 2).
	part, err = mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":        {"message/" + reportType},
		"Content-Description": {"Delivery report"},
	})
	if err != nil {
		return err
	}
	io.WriteString(part, b.statusReport())

	// 3. The original header block (RFC 6522 section 3: text/rfc822-headers;
	// RFC 6533 section 6.3: message/global-headers when it holds UTF-8).
	if headers != nil {
		headersType := "text/rfc822-headers"
		if !isASCII(string(headers)) {
			headersType = "message/global-headers"
		}
		part, err = mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":        {headersType},
			"Content-Description": {"Undelivered Message Headers"},
		})
		if err != nil {
			return err
		}
		part.Write(headers)
	}
	if err := mw.Close(); err != nil {
		return err
	}
	bw.WriteString("\r\n")
	return bw.Flush()
}

func (b *Bounce) anyUTF8Rcpt() bool {
	for _, f := range b.Failures {
		if !isASCII(f.Rcpt) {
			return true
		}
	}
	return false
}

func (b *Bounce) humanText(date time.Time) string {
	var sb strings.Builder
	line := func(s string) {
		for _, l := range wrap(s, 78) {
			sb.WriteString(l + "\r\n")
		}
	}
	line("This is the mail system at host " + clean(b.ReportingMTA) + ".")
	line("")
	line("I'm sorry to have to inform you that your message could not")
	line("be delivered to one or more recipients. The headers of your")
	line("message are attached below.")
	line("")
	if b.QID != "" {
		line("Queue ID: " + clean(b.QID))
	}
	if !b.Arrival.IsZero() {
		line("Arrived: " + b.Arrival.Format(time.RFC1123Z))
	}
	line("")
	for _, f := range b.Failures {
		reason := clean(f.Reply)
		if reason == "" {
			reason = "delivery failed"
		}
		if f.Expired {
			reason = "gave up: the message stayed undeliverable for too long; last error: " + reason
		}
		line("<" + clean(f.Rcpt) + ">: " + reason)
		line("")
	}
	return sb.String()
}

// statusReport is the body of the message/delivery-status part: one
// per-message block and one per-recipient block, separated by blank lines
// (RFC 3464 section 2.1).
func (b *Bounce) statusReport() string {
	var sb strings.Builder
	field := func(name, value string) { sb.WriteString(fold(name+": "+value) + "\r\n") }

	field("Reporting-MTA", "dns; "+clean(b.ReportingMTA))
	if b.QID != "" {
		// An extension field (RFC 3464 section 2.4): X- names are free
		// for private use.
		field("X-Dkimrelay-Queue-ID", clean(b.QID))
	}
	if !b.Arrival.IsZero() {
		field("Arrival-Date", b.Arrival.Format(time.RFC1123Z))
	}
	for _, f := range b.Failures {
		sb.WriteString("\r\n")
		addrType := "rfc822"
		if !isASCII(f.Rcpt) {
			addrType = "utf-8" // RFC 6533 section 3
		}
		field("Final-Recipient", addrType+"; "+clean(f.Rcpt))
		field("Action", "failed")
		field("Status", statusCode(f))
		if f.RemoteMTA != "" {
			field("Remote-MTA", "dns; "+clean(f.RemoteMTA))
		}
		if f.Reply != "" {
			field("Diagnostic-Code", diagnostic(f.Reply))
		}
	}
	return sb.String()
}

var (
	statusRE = regexp.MustCompile(`^[245]\.[0-9]{1,3}\.[0-9]{1,3}$`)
	// A remote reply inside the human-readable Reply:
	// "mx.example.net said: 550 5.1.1 no such user".
	smtpReplyRE = regexp.MustCompile(`(?:^|said: )([2-5][0-9][0-9](?:[ -].*)?)$`)
)

func statusCode(f Failure) string {
	if statusRE.MatchString(f.Status) {
		return f.Status
	}
	if f.Expired {
		return "4.4.7" // RFC 3463: delivery time expired
	}
	return "5.0.0"
}

// diagnostic is the Diagnostic-Code value: the remote SMTP reply as
// "smtp; 550 ..." (RFC 3464 section 2.3.6), or a local reason under this
// program's own diagnostic type.
func diagnostic(reply string) string {
	reply = clean(reply)
	if m := smtpReplyRE.FindStringSubmatch(reply); m != nil {
		return "smtp; " + m[1]
	}
	return "x-dkimrelay; " + reply
}

// headerBlock reads r up to the blank line ending the header block, at most
// max bytes cut at a line boundary, with CRLF line endings.
func headerBlock(r io.Reader, max int) ([]byte, error) {
	br := bufio.NewReader(io.LimitReader(r, int64(max)))
	var out bytes.Buffer
	for {
		line, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return nil, err
		}
		complete := bytes.HasSuffix(line, []byte("\n"))
		line = bytes.TrimRight(line, "\r\n")
		if complete && len(line) == 0 {
			break // end of the header block
		}
		if !complete {
			// EOF, or the bound cut this line: keep only whole lines,
			// unless the message ended without a newline.
			if err == io.EOF && out.Len()+len(line) < max && len(line) > 0 {
				out.Write(line)
				out.WriteString("\r\n")
			}
			break
		}
		out.Write(line)
		out.WriteString("\r\n")
	}
	return out.Bytes(), nil
}

// clean makes a value safe for one header or text line: control
// characters (CR and LF above all, against header injection) become
// spaces, and runs of spaces collapse.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 900 {
		s = strings.ToValidUTF8(s[:900], "") + "..."
	}
	return s
}

// maxTextLine is the longest line wrap ever makes, in bytes: within RFC
// 5322 section 2.1.1's 998 with room to spare.
const maxTextLine = 990

// wrap breaks a line of text at spaces into lines of at most width bytes
// where the words allow, continuation lines indented by two spaces; a word
// longer than maxTextLine (a long address or server reply without spaces)
// is cut, at a UTF-8 boundary, so that no line reaches RFC 5322's 998.
func wrap(s string, width int) []string {
	var lines []string
	cur := ""
	for _, word := range strings.Split(s, " ") {
		for len(word) > maxTextLine-2 {
			cut := maxTextLine - 2
			for cut > 0 && !utf8.RuneStart(word[cut]) {
				cut--
			}
			if cur != "" {
				lines = append(lines, cur)
			}
			lines, cur, word = append(lines, indentIf(lines, word[:cut])), "", word[cut:]
		}
		switch {
		case cur == "":
			cur = indentIf(lines, word)
		case len(cur)+1+len(word) > width:
			lines = append(lines, cur)
			cur = "  " + word
		default:
			cur += " " + word
		}
	}
	return append(lines, cur)
}

// indentIf indents a continuation line: any line after the first.
func indentIf(lines []string, s string) string {
	if len(lines) > 0 {
		return "  " + s
	}
	return s
}

// fold wraps a header field at spaces so lines stay under 78 characters
// where possible (RFC 5322 section 2.2.3).
func fold(field string) string {
	const width = 78
	var sb strings.Builder
	lineLen := 0
	for i, word := range strings.Split(field, " ") {
		if i > 0 {
			if lineLen+1+len(word) > width {
				sb.WriteString("\r\n ")
				lineLen = 1
			} else {
				sb.WriteByte(' ')
				lineLen++
			}
		}
		sb.WriteString(word)
		lineLen += len(word)
	}
	return sb.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func randomHex(n int) string {
	buf := make([]byte, n)
	rand.Read(buf)
	return hex.EncodeToString(buf)
}
