package delivery

// A thin SMTP client (RFC 5321 section 4) for one outbound session.
//
// go-smtp's Client was the first choice, but v0.25.1 cannot do what a
// sending MTA needs: STARTTLS on an existing client is only reachable
// through NewClientStartTLS, which first says "EHLO localhost"; the TLS
// handshake happens lazily inside the next command so its failure cannot be
// told apart to trigger the plaintext retry; writes of the message body have
// no deadline, so a peer that stops reading hangs the sender forever; and it
// always adds BODY=8BITMIME. This client does only what delivery uses, with
// a deadline on every read and write.

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"

	"dkimrelay/internal/dotstuff"
)

const (
	// maxReplyLine is generous: RFC 5321 section 4.5.3.1.5 allows 512
	// octets, but real servers send longer lines.
	maxReplyLine = 4096
	// maxReplyLines bounds a multi-line reply (an EHLO has a dozen).
	maxReplyLines = 128
)

// reply is one SMTP reply (RFC 5321 section 4.2).
type reply struct {
	Code     int
	Enhanced string   // RFC 3463 status from the first line, "" when absent
	Lines    []string // text of each line, without code and enhanced status
}

// String is the reply on one line, as people quote it:
// "550 5.1.1 no such user".
func (r *reply) String() string {
	s := strconv.Itoa(r.Code)
	if r.Enhanced != "" {
		s += " " + r.Enhanced
	}
	if text := strings.Join(r.Lines, " "); text != "" {
		s += " " + text
	}
	return s
}

func (r *reply) positive() bool { return r.Code >= 200 && r.Code < 400 }

var enhancedRE = regexp.MustCompile(`^([245]\.[0-9]{1,3}\.[0-9]{1,3})(?: |$)`)

// protocolError is a reply that does not follow RFC 5321 section 4.2.
type protocolError struct{ msg string }

func (e *protocolError) Error() string { return "protocol error: " + e.msg }

// tlsHandshakeError wraps a failed TLS handshake after STARTTLS, the one
// failure after which a plaintext retry is made.
type tlsHandshakeError struct{ err error }

func (e *tlsHandshakeError) Error() string { return "TLS handshake failed: " + e.err.Error() }
func (e *tlsHandshakeError) Unwrap() error { return e.err }

// client is one SMTP session. It is not safe for concurrent use.
type client struct {
	raw        net.Conn // the TCP connection, closed to abort
	conn       net.Conn // raw, or the TLS connection over it
	r          *bufio.Reader
	w          *bufio.Writer
	cmdTimeout time.Duration
	ext        map[string]string // EHLO keywords (upper case) and parameters
	tls        *tls.ConnectionState
	info       TLSInfo // what TLS the session got; the handshake's verification fills it in
}

func newClient(conn net.Conn, cmdTimeout time.Duration) *client {
	c := &client{raw: conn, cmdTimeout: cmdTimeout}
	c.setConn(conn)
	return c
}

func (c *client) setConn(conn net.Conn) {
	c.conn = conn
	c.r = bufio.NewReader(conn)
	// One TLS record's worth (16 KiB, RFC 8446 section 5.1): a typical
	// notification leaves in one write.
	c.w = bufio.NewWriterSize(deadlineWriter{conn, c.cmdTimeout}, 16<<10)
}

func (c *client) close() error { return c.raw.Close() }

// has reports whether the last EHLO advertised keyword ext.
func (c *client) has(ext string) bool {
	_, ok := c.ext[ext]
	return ok
}

// readReply reads one reply, waiting at most timeout.
func (c *client) readReply(timeout time.Duration) (*reply, error) {
	if err := c.conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	rep := &reply{}
	for i := 0; ; i++ {
		if i == maxReplyLines {
			return nil, &protocolError{"reply longer than " + strconv.Itoa(maxReplyLines) + " lines"}
		}
		line, err := c.readLine()
		if err != nil {
			return nil, err
		}
		if len(line) < 3 || (len(line) > 3 && line[3] != ' ' && line[3] != '-') {
			return nil, &protocolError{fmt.Sprintf("malformed reply line %q", truncate(line, 80))}
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil || code < 200 || code > 599 {
			return nil, &protocolError{fmt.Sprintf("malformed reply code in %q", truncate(line, 80))}
		}
		if i > 0 && code != rep.Code {
			return nil, &protocolError{"reply code changed inside a multi-line reply"}
		}
		rep.Code = code
		text := ""
		if len(line) > 4 {
			text = line[4:]
		}
		// RFC 2034 section 4: the enhanced status code starts each
		// line's text; keep the first, drop the repeats.
		if m := enhancedRE.FindStringSubmatch(text); m != nil && (i == 0 || m[1] == rep.Enhanced) {
			if i == 0 {
				rep.Enhanced = m[1]
			}
			text = strings.TrimPrefix(text[len(m[1]):], " ")
		}
		rep.Lines = append(rep.Lines, text)
		if len(line) == 3 || line[3] == ' ' {
			return rep, nil
		}
	}
}

// readLine reads one CRLF- or LF-terminated line of at most maxReplyLine
// bytes.
func (c *client) readLine() (string, error) {
	var line []byte
	for {
		chunk, err := c.r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxReplyLine {
			return "", &protocolError{"reply line too long"}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		return strings.TrimRight(string(line), "\r\n"), nil
	}
}

// cmd sends one command line and reads its reply. A negative reply is not
// an error: the caller decides what 4xx and 5xx mean at its stage.
func (c *client) cmd(timeout time.Duration, format string, args ...any) (*reply, error) {
	if err := c.queue(format, args...); err != nil {
		return nil, err
	}
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	return c.readReply(timeout)
}

// queue buffers one command line without sending it, for a group of
// pipelined commands (RFC 2920) that the next flush sends at once.
func (c *client) queue(format string, args ...any) error {
	line := fmt.Sprintf(format, args...)
	if strings.ContainsAny(line, "\r\n") {
		return errors.New("command contains CR or LF")
	}
	_, err := c.w.WriteString(line + "\r\n")
	return err
}

func (c *client) flush() error { return c.w.Flush() }

// greet reads the server's greeting (RFC 5321 section 4.3.1).
func (c *client) greet() (*reply, error) { return c.readReply(c.cmdTimeout) }

// hello sends EHLO, falling back to HELO when the server does not know
// EHLO (RFC 5321 section 4.1.4), and records the advertised extensions.
func (c *client) hello(name string) (*reply, error) {
	c.ext = map[string]string{}
	rep, err := c.cmd(c.cmdTimeout, "EHLO %s", name)
	if err != nil {
		return nil, err
	}
	if rep.Code == 500 || rep.Code == 502 {
		return c.cmd(c.cmdTimeout, "HELO %s", name)
	}
	if rep.positive() {
		// Extensions are on the lines after the first (RFC 5321
		// section 4.1.1.1).
		for _, line := range rep.Lines[1:] {
			keyword, params, _ := strings.Cut(line, " ")
			c.ext[strings.ToUpper(keyword)] = params
		}
	}
	return rep, nil
}

// startTLS sends STARTTLS and, on 220, performs the TLS handshake (RFC
// 3207 section 4). A negative reply is returned with a nil error and the
// session stays in plaintext; a failed handshake is a *tlsHandshakeError
// and leaves the connection unusable. After success the caller must EHLO
// again (RFC 3207 section 4.2).
func (c *client) startTLS(cfg *tls.Config) (*reply, error) {
	rep, err := c.cmd(c.cmdTimeout, "STARTTLS")
	if err != nil || rep.Code != 220 {
		return rep, err
	}
	// Bytes already buffered after the 220 were sent before the
	// handshake: accepting them would let an attacker inject commands
	// into the protected session (CVE-2011-0411).
	if c.r.Buffered() > 0 {
		return nil, &protocolError{"server sent data after its STARTTLS reply"}
	}
	tc := tls.Client(c.raw, cfg)
	if err := tc.SetDeadline(time.Now().Add(c.cmdTimeout)); err != nil {
		return nil, err
	}
	if err := tc.Handshake(); err != nil {
		return nil, &tlsHandshakeError{err}
	}
	if err := tc.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	c.useTLS(tc)
	return rep, nil
}

// useTLS switches to an established TLS connection (also used for
// implicit TLS).
func (c *client) useTLS(tc *tls.Conn) {
	state := tc.ConnectionState()
	c.tls = &state
	c.info.Version = tlsVersion(c.tls)
	c.setConn(tc)
	c.ext = nil
}

// auth runs a SASL exchange (RFC 4954 section 4). It returns the final
// reply: 235 on success. Nothing from the exchange is logged or returned
// except the server's final reply.
func (c *client) auth(a sasl.Client) (*reply, error) {
	mech, ir, err := a.Start()
	if err != nil {
		return nil, err
	}
	line := "AUTH " + mech
	if ir != nil {
		if len(ir) == 0 {
			line += " =" // RFC 4954 section 4: empty initial response
		} else {
			line += " " + base64.StdEncoding.EncodeToString(ir)
		}
	}
	rep, err := c.cmd(c.cmdTimeout, "%s", line)
	for err == nil && rep.Code == 334 {
		challenge, derr := base64.StdEncoding.DecodeString(strings.Join(rep.Lines, ""))
		var resp []byte
		if derr == nil {
			resp, derr = a.Next(challenge)
		}
		if derr != nil {
			// Cancel the exchange (RFC 4954 section 4).
			rep, err = c.cmd(c.cmdTimeout, "*")
			if err == nil && rep.positive() {
				err = fmt.Errorf("SASL %s: %w", mech, derr)
			}
			return rep, err
		}
		rep, err = c.cmd(c.cmdTimeout, "%s", base64.StdEncoding.EncodeToString(resp))
	}
	return rep, err
}

// data sends the DATA command, then the message from r with dot-stuffing
// and CRLF line endings (RFC 5321 section 4.5.2), then reads the final
// reply waiting at most finalTimeout (RFC 5321 section 4.5.3.2.6). A
// negative reply to DATA itself is returned with sent == false.
func (c *client) data(r io.Reader, finalTimeout time.Duration) (rep *reply, sent bool, err error) {
	rep, err = c.cmd(c.cmdTimeout, "DATA")
	if err != nil || rep.Code != 354 {
		return rep, false, err
	}
	rep, err = c.body(r, finalTimeout)
	return rep, true, err
}

// body sends the message after a 354 reply to DATA, then reads the final
// reply; see data. A nil reply with an error means the final dot was not
// sent.
func (c *client) body(r io.Reader, finalTimeout time.Duration) (*reply, error) {
	dw := dotstuff.NewWriter(c.w)
	buf := copyBufs.Get().(*[]byte)
	_, err := io.CopyBuffer(dw, r, *buf)
	copyBufs.Put(buf)
	if err != nil {
		// Do not send the final dot: the server must not take a
		// truncated message. The caller closes the connection.
		return nil, err
	}
	if err := dw.Close(); err != nil {
		return nil, err
	}
	return c.readReply(finalTimeout)
}

// copyBufs recycles the buffers messages are copied through to the
// server, from one message to the next.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// quit ends the session politely, with a short wait for the reply.
func (c *client) quit() {
	_, _ = c.cmd(min(c.cmdTimeout, 10*time.Second), "QUIT")
	_ = c.close()
}

// deadlineWriter refreshes the write deadline before every write, so a
// peer that stops reading is noticed (RFC 5321 section 4.5.3.2.5 suggests
// 3 minutes per data block).
type deadlineWriter struct {
	conn    net.Conn
	timeout time.Duration
}

func (w deadlineWriter) Write(p []byte) (int, error) {
	if err := w.conn.SetWriteDeadline(time.Now().Add(w.timeout)); err != nil {
		return 0, err
	}
	return w.conn.Write(p)
}

func tlsVersion(state *tls.ConnectionState) string {
	if state == nil {
		return ""
	}
	return strings.ReplaceAll(tls.VersionName(state.Version), " ", "")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
