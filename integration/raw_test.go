package integration

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

// rawClient speaks SMTP byte for byte. go-smtp's client normalises line
// ends and dot-stuffs, which is right for mail and wrong for testing what
// the relay does with malformed input.
type rawClient struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

// reply is one (possibly multi-line) server reply.
type reply struct {
	Code  int
	Lines []string // text after the code and separator
}

func (rp reply) text() string { return strings.Join(rp.Lines, " / ") }

func (rp reply) String() string { return fmt.Sprintf("%d %s", rp.Code, rp.text()) }

// dialRaw connects to addr and reads the greeting.
func dialRaw(t testing.TB, addr string, implicitTLS bool) *rawClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("raw: dial %s: %v", addr, err)
	}
	if implicitTLS {
		tc := tls.Client(conn, clientTLS())
		if err := tc.Handshake(); err != nil {
			t.Fatalf("raw: TLS handshake: %v", err)
		}
		conn = tc
	}
	t.Cleanup(func() { conn.Close() })
	c := &rawClient{t: t, conn: conn, r: bufio.NewReader(conn)}
	if g := c.read(); g.Code != 220 {
		t.Fatalf("raw: greeting %v, want 220", g)
	}
	return c
}

// read reads one reply; it fails the test on a broken connection.
func (c *rawClient) read() reply {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var rp reply
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("raw: reading reply (so far %v): %v", rp, err)
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 3 {
			c.t.Fatalf("raw: malformed reply line %q", line)
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil {
			c.t.Fatalf("raw: malformed reply line %q", line)
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

// write sends bytes as they are.
func (c *rawClient) write(s string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.conn.Write([]byte(s)); err != nil {
		c.t.Fatalf("raw: write: %v", err)
	}
}

// cmd sends one command line and reads its reply.
func (c *rawClient) cmd(line string) reply {
	c.t.Helper()
	c.write(line + "\r\n")
	return c.read()
}

// expect sends a command and fails the test unless the reply has code.
func (c *rawClient) expect(line string, code int) reply {
	c.t.Helper()
	rp := c.cmd(line)
	if rp.Code != code {
		c.t.Fatalf("raw: %q got %v, want %d", line, rp, code)
	}
	return rp
}

// ehlo sends EHLO and returns the advertised extensions, upper-cased.
func (c *rawClient) ehlo() []string {
	c.t.Helper()
	rp := c.expect("EHLO client.example.org", 250)
	var ext []string
	for _, l := range rp.Lines[1:] {
		ext = append(ext, strings.ToUpper(l))
	}
	return ext
}

// starttls upgrades the connection (RFC 3207) and says EHLO again, since
// everything learnt before TLS must be forgotten (section 4.2).
func (c *rawClient) starttls() []string {
	c.t.Helper()
	c.ehlo()
	c.expect("STARTTLS", 220)
	tc := tls.Client(c.conn, clientTLS())
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("raw: TLS handshake after STARTTLS: %v", err)
	}
	c.conn = tc
	c.r = bufio.NewReader(tc)
	return c.ehlo()
}

// authPlain sends AUTH PLAIN with an initial response (RFC 4954, RFC 4616).
func (c *rawClient) authPlain(authz, user, pass string) reply {
	c.t.Helper()
	ir := base64.StdEncoding.EncodeToString([]byte(authz + "\x00" + user + "\x00" + pass))
	return c.cmd("AUTH PLAIN " + ir)
}

// login is STARTTLS then a successful AUTH PLAIN.
func (c *rawClient) login(user, pass string) {
	c.t.Helper()
	c.starttls()
	if rp := c.authPlain("", user, pass); rp.Code != 235 {
		c.t.Fatalf("raw: AUTH PLAIN as %s: %v, want 235", user, rp)
	}
}

// data sends DATA, expects 354, sends raw (which must carry its own end of
// data) and returns the final reply.
func (c *rawClient) data(raw string) reply {
	c.t.Helper()
	c.expect("DATA", 354)
	c.write(raw)
	return c.read()
}
