package testkit

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Raw speaks SMTP byte for byte. go-smtp's client normalises line ends
// and dot-stuffs, which is right for mail and wrong for testing what a
// server does with malformed or pipelined input.
type Raw struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

// Reply is one (possibly multi-line) server reply (RFC 5321 section 4.2).
type Reply struct {
	Code  int
	Lines []string // the text of each line, after the code and separator
	Err   error    // the connection ended or broke before a whole reply
}

// Text is the reply's text, its lines joined by newlines.
func (rp Reply) Text() string { return strings.Join(rp.Lines, "\n") }

// String is the reply as it came: "250-first\n250 last", or the error.
func (rp Reply) String() string {
	var b strings.Builder
	for i, l := range rp.Lines {
		sep := "-"
		if i == len(rp.Lines)-1 {
			sep = " "
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%03d%s%s", rp.Code, sep, l)
	}
	if rp.Err != nil {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "(connection ended: %v)", rp.Err)
	}
	return b.String()
}

// Closed tells whether the connection ended before a whole reply.
func (rp Reply) Closed() bool { return rp.Err != nil }

// ClientTLS is the TLS config of Raw: it trusts any certificate, as an
// application pointed at a relay's self-signed certificate does.
func ClientTLS() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, ServerName: "mail.example.org", MinVersion: tls.VersionTLS12}
}

// ConnectRaw connects to addr (in TLS at once when implicitTLS) and
// returns the client and the server's greeting, whatever it is.
func ConnectRaw(t testing.TB, addr string, implicitTLS bool) (*Raw, Reply) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("raw: dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	if implicitTLS {
		tc := tls.Client(conn, ClientTLS())
		tc.SetDeadline(time.Now().Add(30 * time.Second))
		if err := tc.Handshake(); err != nil {
			t.Fatalf("raw: TLS handshake with %s: %v", addr, err)
		}
		tc.SetDeadline(time.Time{})
		conn = tc
	}
	c := NewRaw(t, conn)
	return c, c.Reply()
}

// DialRaw is ConnectRaw for a session that must start: it fails the test
// unless the greeting is 220.
func DialRaw(t testing.TB, addr string, implicitTLS bool) *Raw {
	t.Helper()
	c, g := ConnectRaw(t, addr, implicitTLS)
	if g.Code != 220 {
		t.Fatalf("raw: greeting of %s: %v, want 220", addr, g)
	}
	return c
}

// NewRaw speaks SMTP on an open connection (a net.Pipe end, say); it
// reads nothing yet.
func NewRaw(t testing.TB, conn net.Conn) *Raw {
	return &Raw{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// Reply reads one reply. It waits 30 seconds at most; a connection that
// ends or breaks first gives a Reply with Err set.
func (c *Raw) Reply() Reply {
	c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var rp Reply
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			rp.Err = err
			return rp
		}
		line = strings.TrimRight(line, "\r\n")
		code, err := strconv.Atoi(line[:min(3, len(line))])
		if err != nil || len(line) < 3 {
			rp.Err = fmt.Errorf("malformed reply line %q", line)
			return rp
		}
		rp.Code = code
		rest := line[3:]
		more := strings.HasPrefix(rest, "-")
		if len(rest) > 0 {
			rest = rest[1:]
		}
		rp.Lines = append(rp.Lines, rest)
		if !more {
			return rp
		}
	}
}

// Send writes s as it is.
func (c *Raw) Send(s string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.conn.Write([]byte(s)); err != nil {
		c.t.Fatalf("raw: write: %v", err)
	}
}

// Cmd sends one command line and reads its reply.
func (c *Raw) Cmd(line string) Reply {
	c.t.Helper()
	c.Send(line + "\r\n")
	return c.Reply()
}

// Expect sends a command and fails the test unless the reply has code.
func (c *Raw) Expect(line string, code int) Reply {
	c.t.Helper()
	rp := c.Cmd(line)
	if rp.Code != code {
		c.t.Fatalf("raw: %q got %v, want %d", line, rp, code)
	}
	return rp
}

// Pipeline sends the command lines in one write, as a client using
// PIPELINING does (RFC 2920), and reads one reply for each.
func (c *Raw) Pipeline(lines ...string) []Reply {
	c.t.Helper()
	c.Send(strings.Join(lines, "\r\n") + "\r\n")
	out := make([]Reply, len(lines))
	for i := range lines {
		out[i] = c.Reply()
	}
	return out
}

// Hello sends EHLO and returns the advertised extensions, upper-cased.
func (c *Raw) Hello(name string) []string {
	c.t.Helper()
	rp := c.Expect("EHLO "+name, 250)
	var ext []string
	for _, l := range rp.Lines[1:] {
		ext = append(ext, strings.ToUpper(l))
	}
	return ext
}

// StartTLS upgrades the connection (RFC 3207) and says EHLO again as
// name, since everything learnt before TLS must be forgotten (section
// 4.2); it returns the extensions then advertised.
func (c *Raw) StartTLS(name string) []string {
	c.t.Helper()
	c.Expect("STARTTLS", 220)
	if err := c.Upgrade(); err != nil {
		c.t.Fatalf("raw: TLS handshake after STARTTLS: %v", err)
	}
	return c.Hello(name)
}

// HelloTLS says EHLO as name, upgrades with STARTTLS and says EHLO again,
// as a submission client does; it returns the extensions advertised in
// TLS.
func (c *Raw) HelloTLS(name string) []string {
	c.t.Helper()
	c.Hello(name)
	return c.StartTLS(name)
}

// Upgrade handshakes TLS after a STARTTLS already answered 220 (a
// pipelined one, say) and from then on speaks inside TLS, dropping
// whatever the server sent in plaintext after the 220.
func (c *Raw) Upgrade() error {
	tc := tls.Client(c.conn, ClientTLS())
	tc.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tc.Handshake(); err != nil {
		return err
	}
	tc.SetDeadline(time.Time{})
	c.conn = tc
	c.r = bufio.NewReader(tc)
	return nil
}

// PlainAuth is the AUTH PLAIN command with its initial response (RFC 4954,
// RFC 4616).
func PlainAuth(authz, user, pass string) string {
	return "AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte(authz+"\x00"+user+"\x00"+pass))
}

// Login sends AUTH PLAIN as user and fails the test unless it gets 235.
func (c *Raw) Login(user, pass string) {
	c.t.Helper()
	if rp := c.Cmd(PlainAuth("", user, pass)); rp.Code != 235 {
		c.t.Fatalf("raw: AUTH PLAIN as %s: %v, want 235", user, rp)
	}
}

// Data sends DATA, expects 354, sends raw (which must carry its own end
// of data) and returns the final reply.
func (c *Raw) Data(raw string) Reply {
	c.t.Helper()
	c.Expect("DATA", 354)
	c.Send(raw)
	return c.Reply()
}

// Close closes the connection.
func (c *Raw) Close() error { return c.conn.Close() }
