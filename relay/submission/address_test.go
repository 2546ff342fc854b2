package submission

import (
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/emersion/go-smtp"

	"dkimrelay/internal/testkit"
	"dkimrelay/users"
)

// rcptParser runs go-smtp's server, as the relay does, behind a session
// whose RCPT is the relay's checkAddress. It answers "what does the relay
// make of RCPT TO:arg": the address the session saw and the reply.
type rcptParser struct {
	conns chan net.Conn
	srv   *smtp.Server

	mu   sync.Mutex
	seen string // the address of the last RCPT that reached the session
}

func newRCPTParser(tb testing.TB) *rcptParser {
	p := &rcptParser{conns: make(chan net.Conn)}
	p.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &checkSession{p: p}, nil }))
	p.srv.Domain = "relay.test"
	p.srv.EnableSMTPUTF8 = true
	p.srv.ErrorLog = log.New(io.Discard, "", 0)
	go p.srv.Serve(pipeListener{p.conns})
	tb.Cleanup(func() { p.srv.Close() })
	return p
}

type checkSession struct{ p *rcptParser }

func (s *checkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *checkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.p.mu.Lock()
	s.p.seen = to
	s.p.mu.Unlock()
	if err := checkAddress(to); err != nil {
		return err
	}
	return nil
}
func (s *checkSession) Data(io.Reader) error { return nil }
func (s *checkSession) Reset()               {}
func (s *checkSession) Logout() error        { return nil }

// pipeListener hands the server the ends of net.Pipe connections.
type pipeListener struct{ c chan net.Conn }

func (l pipeListener) Accept() (net.Conn, error) {
	c, ok := <-l.c
	if !ok {
		return nil, net.ErrClosed
	}
	return c, nil
}
func (l pipeListener) Close() error   { return nil }
func (l pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// rcpt sends "RCPT TO:" + arg after a MAIL FROM and returns the reply code
// and the address the session saw ("" when go-smtp refused the syntax
// before the session was asked).
func (p *rcptParser) rcpt(tb testing.TB, arg string) (int, string) {
	client, server := net.Pipe()
	defer client.Close()
	p.conns <- server
	c := testkit.NewRaw(tb, client)
	read := func(rp testkit.Reply) int {
		if rp.Err != nil {
			tb.Fatalf("reading reply: %v", rp.Err)
		}
		return rp.Code
	}
	read(c.Reply())
	p.mu.Lock()
	p.seen = ""
	p.mu.Unlock()
	for _, cmd := range []string{"EHLO test", "MAIL FROM:<app@example.org>"} {
		if code := read(c.Cmd(cmd)); code != 250 {
			tb.Fatalf("%s: %d", cmd, code)
		}
	}
	code := read(c.Cmd("RCPT TO:" + arg))
	p.mu.Lock()
	defer p.mu.Unlock()
	return code, p.seen
}

// TestRecipientForms is the open-relay battery at the address level: what
// the relay does with each recipient form an attacker or a strange client
// may send. "pass" is the address the relay queues and later sends, as
// RCPT TO:<pass>, to the MX of its domain only.
func TestRecipientForms(t *testing.T) {
	p := newRCPTParser(t)
	cases := []struct {
		name, arg string
		code      int
		pass      string
	}{
		{"plain", "<user@example.net>", 250, "user@example.net"},
		{"no brackets", "user@example.net", 250, "user@example.net"},
		{"SMTPUTF8", "<dörte@bücher.example>", 250, "dörte@bücher.example"},
		// RFC 5321 section 4.1.1.3: the route is ignored, the mailbox is
		// all that is sent on.
		{"source route", "<@a.example,@b.example:user@example.net>", 250, "user@example.net"},
		{"source route, one hop", "<@relay.example:user@example.net>", 250, "user@example.net"},
		// % and ! are atext: passed unchanged to example.net's MX.
		{"percent hack", "<user%victim.example@example.net>", 250, "user%victim.example@example.net"},
		{"bang path", "<victim.example!user@example.net>", 250, "victim.example!user@example.net"},
		{"bang and percent", "<a!b%c@example.net>", 250, "a!b%c@example.net"},
		// A second @ is the user@domain@domain relay trick; quoted or not,
		// it cannot be sent on unquoted, so it is refused.
		{"two @", "<user@victim.example@example.net>", 553, ""},
		{"quoted @", `<"user@victim.example"@example.net>`, 553, ""},
		{"quoted source route", `<"@victim.example:user"@example.net>`, 553, ""},
		{"quoted space", `<"john doe"@example.net>`, 553, ""},
		{"quoted parameter injection", `<"a> NOTIFY=NEVER ORCPT=rfc822;x"@example.net>`, 553, ""},
		{"quoted angle", `<"a<b"@example.net>`, 553, ""},
		{"quoted backslash", `<"a\\b"@example.net>`, 553, ""},
		{"quoted control character", "<\"a\x01b\"@example.net>", 553, ""},
		{"quoted, not needed", `<"user"@example.net>`, 250, "user@example.net"},
		{"dot atom", "<first.last+tag@example.net>", 250, "first.last+tag@example.net"},
		{"docomo dots", "<a..b.@example.net>", 250, "a..b.@example.net"},
		{"DEL", "<a\x7fb@example.net>", 553, ""},
		{"invalid UTF-8", "<a\xffb@example.net>", 501, ""},
		{"IPv4 literal", "<user@[192.0.2.1]>", 250, "user@[192.0.2.1]"},
		{"IPv6 literal", "<user@[IPv6:2001:db8::1]>", 250, "user@[IPv6:2001:db8::1]"},
		{"IPv6 literal without tag", "<user@[2001:db8::1]>", 501, ""},
		{"IPv4 in IPv6 tag", "<user@[IPv6:192.0.2.1]>", 501, ""},
		{"general literal", "<user@[x400:c=de]>", 501, ""},
		{"literal leading zero", "<user@[192.0.2.01]>", 501, ""},
		{"unclosed literal", "<user@[192.0.2.1>", 501, ""},
		{"malformed domain", "<bob@@example..net>", 501, ""},
		{"domain with underscore", "<bob@ex_ample.net>", 501, ""},
		{"no domain", "<no-domain>", 501, ""},
		{"no local part", "<@example.net>", 501, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, seen := p.rcpt(t, tc.arg)
			if code != tc.code {
				t.Fatalf("RCPT TO:%s = %d (session saw %q), want %d", tc.arg, code, seen, tc.code)
			}
			if code == 250 && seen != tc.pass {
				t.Errorf("RCPT TO:%s passed on as %q, want %q", tc.arg, seen, tc.pass)
			}
		})
	}
}

// FuzzParseAddress: whatever follows "RCPT TO:", an address the relay
// accepts (go-smtp's parser, then checkAddress) is one it can send on
// unchanged: written back as RCPT TO:<addr> it parses to the same address,
// it names exactly one domain, and the login checks (users.SplitAddress
// and MaySend) agree with it.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{
		"<user@example.net>", "<@a,@b:user@c.example>", "<user%host@example.net>", "<host!user@example.net>",
		`<"quoted"@example.net>`, `<"a b"@example.net>`, "<user@[192.0.2.1]>", "<user@[IPv6:::1]>",
		"<dörte@bücher.example>", "<a@b@c.example>", "<user@example.net> NOTIFY=NEVER", "<user@example.net.>",
	} {
		f.Add(s)
	}
	p := newRCPTParser(f)
	f.Fuzz(func(t *testing.T, arg string) {
		if strings.ContainsAny(arg, "\r\n") || len(arg) > 1000 {
			return // another command line, or over go-smtp's line limit
		}
		code, addr := p.rcpt(t, arg)
		if code != 250 {
			return
		}
		if !utf8.ValidString(addr) || strings.ContainsAny(addr, " \t<>\"\\,;()\x00\x7f") {
			t.Fatalf("accepted %q, which cannot be written back as is", addr)
		}
		for _, r := range addr {
			if r < 0x20 {
				t.Fatalf("accepted %q with a control character", addr)
			}
		}
		again, back := p.rcpt(t, "<"+addr+">")
		if again != 250 || back != addr {
			t.Fatalf("accepted %q, but RCPT TO:<%s> gives %d %q", addr, addr, again, back)
		}
		local, domain, ok := users.SplitAddress(addr)
		if !ok || strings.Contains(local, "@") || strings.Contains(domain, "@") || local+"@"+domain != strings.TrimSuffix(addr, ".") {
			t.Fatalf("accepted %q, split as %q @ %q", addr, local, domain)
		}
		if strings.HasPrefix(domain, "[") != strings.HasSuffix(domain, "]") {
			t.Fatalf("accepted %q with a half literal", addr)
		}
		// The login checks see the same domain and local part; ASCII
		// case does not matter, other letters compare exactly.
		upperASCII := strings.Map(func(r rune) rune {
			if 'a' <= r && r <= 'z' {
				return r - 'a' + 'A'
			}
			return r
		}, domain)
		if !(&users.User{Allow: []string{"@" + upperASCII}}).MaySend(addr) {
			t.Fatalf("a login allowed @%s may not send as %q", domain, addr)
		}
		if !(&users.User{Allow: []string{local + "@" + domain}}).MaySend(addr) {
			t.Fatalf("a login allowed %s@%s may not send as %q", local, domain, addr)
		}
		if (&users.User{Allow: []string{"@other." + domain}}).MaySend(addr) {
			t.Fatalf("a login allowed @other.%s may send as %q", domain, addr)
		}
	})
}
