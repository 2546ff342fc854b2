package relay

// The open-relay and SMTP smuggling batteries: no listener
// relays without a login, every recipient form reaches only the MX of its
// own domain, and no trick with line endings turns one submission into two
// messages downstream.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
	"dkimrelay/resolver/dnstest"
)

// relayBattery starts a relay as deployed (AUTH only after TLS) with the
// destinations good.test on 127.0.0.2 and other.test, the would-be victim
// of a relay trick, on 127.0.0.3. The session limits are raised: the
// battery tries every form on one connection.
func relayBattery(t *testing.T) (h *hardRelay, good, other *smtpsink.Sink) {
	port, ls := testkit.ListenSame(t, "127.0.0.2", "127.0.0.3")
	good, other = serveSink(t, ls[0]), serveSink(t, ls[1])
	dns := dnstest.NewServer(t)
	dns.AddZone(hardZone)
	h = newHardRelay(t, dns, hardOptions{port: port, submission: "allow_insecure_auth = false\nauth_max_failures = 100\nmax_pre_auth_commands = 1000\nmax_errors = 1000"})
	return h, good, other
}

// recipientForms are the addresses of the relay tricks: each names
// other.test somewhere, in the hope that a relay sends it there.
var recipientForms = []string{
	"victim@other.test",
	"@good.test:victim@other.test",
	"@good.test,@mx.good.test:victim@other.test",
	"victim%other.test@good.test",
	"other.test!victim@good.test",
	`"victim@other.test"@good.test`,
	"victim@other.test@good.test",
	"victim@[127.0.0.3]",
	"<victim@other.test>",
}

// TestUnauthenticatedNeverRelays: on the plaintext listener, after
// STARTTLS, and on the implicit-TLS listener, a client without a login
// gets 530 for MAIL FROM (with a sender or the null sender), nothing for
// any recipient form, no DATA, and not even AUTH before TLS; a failed
// login changes none of it. Nothing reaches any MX.
func TestUnauthenticatedNeverRelays(t *testing.T) {
	h, good, other := relayBattery(t)
	listeners := []struct {
		name string
		open func() *testkit.Raw
	}{
		{"plaintext", func() *testkit.Raw { return dialHardRaw(t, h.Addr(), false) }},
		{"STARTTLS", func() *testkit.Raw { s := dialHardRaw(t, h.Addr(), false); s.StartTLS("client.test"); return s }},
		{"implicit TLS", func() *testkit.Raw { return dialHardRaw(t, h.TLSAddr(), true) }},
	}
	for _, l := range listeners {
		t.Run(l.name, func(t *testing.T) {
			s := l.open()
			if l.name == "plaintext" {
				// The right password, but in the clear: refused
				// before it is even looked at.
				if rp := s.Cmd(testkit.PlainAuth("", "app", testkit.Password)); rp.Code == 235 || rp.Code/100 == 2 {
					t.Fatalf("AUTH without TLS: %d %s", rp.Code, rp.Text())
				}
			} else if rp := s.Cmd(testkit.PlainAuth("", "app", "wrong password")); rp.Code != 535 {
				t.Fatalf("AUTH with a wrong password: %d %s", rp.Code, rp.Text())
			}
			for _, sender := range []string{"<app@example.org>", "<>"} {
				for _, rcpt := range recipientForms {
					if rp := s.Cmd("MAIL FROM:" + sender); rp.Code != 530 || !strings.HasPrefix(rp.Text(), "5.7.0") {
						t.Errorf("MAIL FROM:%s without a login: %d %s", sender, rp.Code, rp.Text())
					}
					if !strings.HasPrefix(rcpt, "<") {
						rcpt = "<" + rcpt + ">"
					}
					if rp := s.Cmd("RCPT TO:" + rcpt); rp.Code/100 != 5 {
						t.Errorf("RCPT TO:%s without a login: %d %s", rcpt, rp.Code, rp.Text())
					}
					if rp := s.Cmd("DATA"); rp.Code == 354 || rp.Code/100 == 2 {
						t.Fatalf("DATA without a login: %d %s", rp.Code, rp.Text())
					}
				}
			}
			// A message pipelined after the refused DATA is read as
			// commands, all refused, until go-smtp closes the session
			// for too many errors.
			s.Send("DATA\r\nSubject: relayed?\r\n\r\nbody\r\n.\r\nQUIT\r\n")
			for {
				rp := s.Reply()
				if rp.Code == 0 || rp.Code == 221 {
					break
				}
				if rp.Code/100 == 2 || rp.Code == 354 {
					t.Fatalf("the pipelined message without a login: %v", rp)
				}
			}
		})
	}

	// STARTTLS command injection (CVE-2011-0411): commands pipelined
	// after STARTTLS in plaintext must not run inside the TLS session.
	s := dialHardRaw(t, h.Addr(), false)
	s.Send("STARTTLS\r\nAUTH " + testkit.PlainAuth("", "app", testkit.Password)[5:] + "\r\nMAIL FROM:<app@example.org>\r\n")
	if rp := s.Reply(); rp.Code != 220 {
		t.Fatalf("STARTTLS: %d %s", rp.Code, rp.Text())
	}
	if err := s.Upgrade(); err == nil {
		if rp := s.Cmd("EHLO client.test"); rp.Code != 250 {
			t.Errorf("the first reply inside TLS is %d %s, not EHLO's: injected commands ran", rp.Code, rp.Text())
		}
		if rp := s.Cmd("MAIL FROM:<app@example.org>"); rp.Code != 530 {
			t.Errorf("MAIL FROM after the injected AUTH: %d %s", rp.Code, rp.Text())
		}
	}

	time.Sleep(200 * time.Millisecond)
	if n := len(good.Messages()) + len(other.Messages()); n != 0 || len(h.Logs.Events("accepted")) != 0 {
		t.Fatalf("%d messages reached an MX without a login", n)
	}
}

// TestRecipientFormsDownstream: with a login, each relay trick either is
// refused (a local part that would need quoting) or goes, unchanged but for
// a stripped source route, to the MX of the domain after the last "@"
// only: "%" and "!" are that MX's business (RFC 5321 section 3.6.1 leaves
// them to the destination), never a reason for the relay to go elsewhere.
func TestRecipientFormsDownstream(t *testing.T) {
	h, good, other := relayBattery(t)
	cases := []struct {
		rcpt string
		code int            // 0: accepted
		mx   *smtpsink.Sink // where it must arrive
		as   string         // the RCPT TO the MX sees
	}{
		{"victim%other.test@good.test", 0, good, "victim%other.test@good.test"},
		{"other.test!victim@good.test", 0, good, "other.test!victim@good.test"},
		{"@other.test:route@good.test", 0, good, "route@good.test"},
		{"@other.test,@mx.other.test:route2@good.test", 0, good, "route2@good.test"},
		{`"quoted"@good.test`, 0, good, "quoted@good.test"},
		{`"victim@other.test"@good.test`, 553, nil, ""},
		{"victim@other.test@good.test", 553, nil, ""},
		{`"victim> NOTIFY=NEVER"@good.test`, 553, nil, ""},
		{"literal@[127.0.0.3]", 0, other, "literal@[127.0.0.3]"},
	}
	for i, tc := range cases {
		id := fmt.Sprintf("form-%d", i)
		qid, se := hardSend(t, h.Addr(), []string{tc.rcpt}, hardMessage(id, "someone@good.test"))
		if tc.code != 0 {
			if se == nil || se.Code != tc.code {
				t.Errorf("RCPT TO:<%s>: %v, want %d", tc.rcpt, se, tc.code)
			}
			continue
		}
		if se != nil {
			t.Errorf("RCPT TO:<%s> refused: %d %s", tc.rcpt, se.Code, se.Message)
			continue
		}
		m := testkit.AwaitMessage(t, 15*time.Second, "Hello "+id+".", tc.mx)
		if len(m.To) != 1 || m.To[0] != tc.as {
			t.Errorf("RCPT TO:<%s> (%s) reached the MX as %q, want %q", tc.rcpt, qid, m.To, tc.as)
		}
	}
	waitEmptyQueue(t, h)
	for _, m := range other.Messages() {
		if !strings.Contains(string(m.Data), "Hello form-8.") {
			t.Errorf("other.test's MX received %q for %v", firstLine(m.Data), m.To)
		}
	}
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}

// TestSmugglingBattery: the SMTP smuggling variants (bare LF, bare CR,
// <LF>.<LF>, <CR>.<CR>, <LF>.<CR><LF> and their kin) each end in at most one
// message downstream: the relay refuses them with 550 5.6.0, and a
// legitimate message holding a "." line and SMTP commands (dot-stuffed in
// DATA, or raw in BDAT) is delivered as the one message it is.
func TestSmugglingBattery(t *testing.T) {
	h, good, other := relayBattery(t)
	s := dialHardRaw(t, h.TLSAddr(), true)
	s.Login("app", testkit.Password)

	smuggled := func(name, eol string) string {
		return "MAIL FROM:<app@example.org>" + eol + "RCPT TO:<victim@other.test>" + eol + "DATA" + eol +
			"From: <app@example.org>" + eol + "To: <victim@other.test>" + eol + "Subject: smuggled " + name + eol + eol +
			"smuggled body " + name + eol
	}
	header := func(name string) string {
		return "From: <app@example.org>\r\nTo: <someone@good.test>\r\nSubject: outer " + name +
			"\r\nMessage-ID: <" + name + "@example.org>\r\n\r\nouter body\r\n"
	}
	variants := []struct{ name, end string }{
		{"LF.LF", "\n.\n"},
		{"CR.CR", "\r.\r"},
		{"LF.CRLF", "\n.\r\n"},
		{"CRLF.LF", "\r\n.\n"},
		{"CR.CRLF", "\r.\r\n"},
		{"LF.CR", "\n.\r"},
		{"CRLF.CR", "\r\n.\r"},
		{"bare LF", "\n"},
		{"bare CR", "\r"},
	}
	var accepted []string // variants the relay took as one message
	for _, v := range variants {
		for _, eol := range []string{"\r\n", "\n"} {
			name := fmt.Sprintf("%s/%q", v.name, eol)
			if rp := s.Cmd("MAIL FROM:<app@example.org>"); rp.Code != 250 {
				t.Fatalf("%s: MAIL: %d %s", name, rp.Code, rp.Text())
			}
			if rp := s.Cmd("RCPT TO:<someone@good.test>"); rp.Code != 250 {
				t.Fatalf("%s: RCPT: %d %s", name, rp.Code, rp.Text())
			}
			if rp := s.Cmd("DATA"); rp.Code != 354 {
				t.Fatalf("%s: DATA: %d %s", name, rp.Code, rp.Text())
			}
			s.Send(header(name) + v.end + smuggled(name, eol) + "\r\n.\r\n")
			switch rp := s.Reply(); {
			case rp.Code == 550 && strings.HasPrefix(rp.Text(), "5.6.0"):
			case rp.Code == 250 && v.name == "CRLF.CR":
				// go-smtp v0.25.1's DATA reader drops a "." and the
				// CR after it at the start of a line (net/textproto,
				// which it copies, puts the CR back), so the strict
				// reader never sees this bare CR. What is left is one
				// clean message, checked below.
				accepted = append(accepted, name)
			default:
				t.Errorf("%s: the message got %d %s, want 550 5.6.0", name, rp.Code, rp.Text())
			}
			// Whatever the relay made of it, the session is in step:
			// the next command gets its own reply.
			if rp := s.Cmd("NOOP"); rp.Code != 250 {
				t.Fatalf("%s: out of step after the message: NOOP got %d %s", name, rp.Code, rp.Text())
			}
		}
	}

	// The legitimate forms: a "." line and SMTP commands in the body.
	// DATA (dot-stuffed by the client, RFC 5321 section 4.5.2):
	s.Cmd("MAIL FROM:<app@example.org>")
	s.Cmd("RCPT TO:<someone@good.test>")
	if rp := s.Cmd("DATA"); rp.Code != 354 {
		t.Fatalf("DATA: %d %s", rp.Code, rp.Text())
	}
	s.Send(header("stuffed") + "..\r\n" + smuggled("stuffed", "\r\n") + "..\r\n\r\n.\r\n")
	if rp := s.Reply(); rp.Code != 250 {
		t.Fatalf("a dot-stuffed message: %d %s", rp.Code, rp.Text())
	}
	// BDAT (RFC 3030: no dot-stuffing at all):
	body := header("chunked") + ".\r\n" + smuggled("chunked", "\r\n") + ".\r\n"
	s.Cmd("MAIL FROM:<app@example.org>")
	s.Cmd("RCPT TO:<someone@good.test>")
	s.Send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(body), body))
	if rp := s.Reply(); rp.Code != 250 {
		t.Fatalf("a message in BDAT: %d %s", rp.Code, rp.Text())
	}

	legit := append([]string{"stuffed", "chunked"}, accepted...)
	for _, name := range legit {
		testkit.AwaitMessage(t, 15*time.Second, "Subject: outer "+name+"\r\n", good)
	}
	waitEmptyQueue(t, h)
	if n := len(good.Messages()); n != len(legit) {
		t.Errorf("good.test's MX received %d messages, want %d: %v", n, len(legit), legit)
	}
	for _, m := range good.Messages() {
		// One message each: one outer header, the smuggled text in its
		// body, and no bare CR or LF to be read two ways further on.
		d := string(m.Data)
		if strings.Count(d, "Subject: outer") != 1 || !strings.Contains(d, "\r\nMAIL FROM:<app@example.org>\r\nRCPT TO:<victim@other.test>\r\n") {
			t.Errorf("a message did not arrive whole: %q", d)
		}
		if (strings.Contains(d, "outer stuffed") || strings.Contains(d, "outer chunked")) && !strings.Contains(d, "\r\n.\r\nMAIL FROM:") {
			t.Errorf("the \".\" line of a legitimate message was lost: %q", d)
		}
		if bare := strings.ReplaceAll(d, "\r\n", ""); strings.ContainsAny(bare, "\r\n") {
			t.Errorf("a message went out with a bare CR or LF: %q", d)
		}
	}
	if n := len(other.Messages()); n != 0 {
		t.Errorf("the smuggled recipient received %d messages", n)
	}
}
