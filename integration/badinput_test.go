package integration

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
)

// badInput is one thing a client must not get through. run drives a raw
// session up to the step under test and returns that step's reply.
type badInput struct {
	name string
	run  func(t *testing.T, r *relay, c *testkit.Raw, rcpt string) testkit.Reply
	code int    // the reply code wanted; 0 accepts any 5xx
	enh  string // prefix the reply text must start with (enhanced status code), if set
	// quit checks that the session is still in step afterwards: QUIT must
	// get 221, not the reply to some smuggled command.
	quit bool
}

// header is a well-formed header block for the limited user's address,
// without the blank line.
func header(from, to string) string {
	return "From: " + from + "\r\n" +
		"To: " + to + "\r\n" +
		"Subject: bad input\r\n" +
		"Date: " + time.Now().Format(time.RFC1123Z) + "\r\n" +
		"Message-ID: <" + randomToken() + "@client.example.org>\r\n"
}

// dataAs logs in as user, opens a transaction from->rcpt and sends raw as
// the DATA payload.
func dataAs(user, from string, raw func(rcpt string) string) func(*testing.T, *relay, *testkit.Raw, string) testkit.Reply {
	return func(t *testing.T, r *relay, c *testkit.Raw, rcpt string) testkit.Reply {
		c.HelloTLS("client.example.org")
		c.Login(user, r.password(user))
		c.Expect("MAIL FROM:<"+from+">", 250)
		c.Expect("RCPT TO:<"+rcpt+">", 250)
		return c.Data(raw(rcpt))
	}
}

var badInputs = []badInput{
	{
		name: "MAIL without AUTH",
		run: func(t *testing.T, r *relay, c *testkit.Raw, rcpt string) testkit.Reply {
			c.HelloTLS("client.example.org")
			return c.Cmd("MAIL FROM:<notifications@example.org>")
		},
		code: 530, enh: "5.7.0",
	},
	{
		name: "wrong password",
		run: func(t *testing.T, r *relay, c *testkit.Raw, rcpt string) testkit.Reply {
			c.HelloTLS("client.example.org")
			return c.Cmd(testkit.PlainAuth("", userFull, "not-"+r.password(userFull)))
		},
		code: 535, enh: "5.7.8",
	},
	{
		// RFC 4954 section 4 and RFC 3207 section 4.1: no AUTH offered in
		// cleartext, and an AUTH sent anyway is refused.
		name: "AUTH before STARTTLS",
		run: func(t *testing.T, r *relay, c *testkit.Raw, rcpt string) testkit.Reply {
			ext := c.Hello("client.example.org")
			if !slices.Contains(ext, "STARTTLS") {
				t.Errorf("EHLO before TLS does not offer STARTTLS: %v", ext)
			}
			for _, e := range ext {
				if strings.HasPrefix(e, "AUTH") {
					t.Errorf("EHLO before TLS offers %q", e)
				}
			}
			rp := c.Cmd(testkit.PlainAuth("", userFull, r.password(userFull)))
			if m := c.Cmd("MAIL FROM:<notifications@example.org>"); m.Code != 530 {
				t.Errorf("MAIL after a refused cleartext AUTH: %v, want 530", m)
			}
			return rp
		},
	},
	{
		// RFC 4616 section 2: the authorization identity is who the client
		// acts as; the relay has no proxy logins, so a different one fails.
		name: "AUTH PLAIN authzid differs",
		run: func(t *testing.T, r *relay, c *testkit.Raw, rcpt string) testkit.Reply {
			c.HelloTLS("client.example.org")
			return c.Cmd(testkit.PlainAuth(userLimited, userFull, r.password(userFull)))
		},
		code: 535, enh: "5.7.8",
	},
	{
		name: "MAIL FROM not allowed for login",
		run: func(t *testing.T, r *relay, c *testkit.Raw, rcpt string) testkit.Reply {
			c.HelloTLS("client.example.org")
			c.Login(userLimited, r.password(userLimited))
			return c.Cmd("MAIL FROM:<alice@example.org>")
		},
		code: 550, enh: "5.7.1",
	},
	{
		name: "MAIL FROM foreign domain",
		run: func(t *testing.T, r *relay, c *testkit.Raw, rcpt string) testkit.Reply {
			c.HelloTLS("client.example.org")
			c.Login(userFull, r.password(userFull))
			return c.Cmd("MAIL FROM:<someone@example.net>")
		},
		code: 550, enh: "5.7.1",
	},
	{
		name: "From header not allowed for login",
		run: dataAs(userLimited, "notifications@example.org", func(rcpt string) string {
			return header("alice@example.org", rcpt) + "\r\nbody\r\n.\r\n"
		}),
		code: 550, enh: "5.7.1", quit: true,
	},
	{
		// RFC 5322 section 3.6: exactly one From.
		name: "no From header",
		run: dataAs(userFull, "notifications@example.org", func(rcpt string) string {
			h := strings.Replace(header("x", rcpt), "From: x\r\n", "", 1)
			return h + "\r\nbody\r\n.\r\n"
		}),
		quit: true,
	},
	{
		name: "two From headers",
		run: dataAs(userFull, "notifications@example.org", func(rcpt string) string {
			return header("notifications@example.org", rcpt) + "From: notifications@example.org\r\n\r\nbody\r\n.\r\n"
		}),
		quit: true,
	},
	{
		// Which of two authors would DMARC align? Neither can be checked.
		name: "From with two addresses",
		run: dataAs(userFull, "notifications@example.org", func(rcpt string) string {
			return header("notifications@example.org, alice@example.org", rcpt) +
				"Sender: notifications@example.org\r\n\r\nbody\r\n.\r\n"
		}),
		quit: true,
	},
	{
		// RFC 1870 section 6.1: a declared SIZE over the limit fails MAIL.
		name: "declared SIZE too big",
		run: func(t *testing.T, r *relay, c *testkit.Raw, rcpt string) testkit.Reply {
			c.HelloTLS("client.example.org")
			c.Login(userFull, r.password(userFull))
			return c.Cmd(fmt.Sprintf("MAIL FROM:<notifications@example.org> SIZE=%d", badInputMaxSize*4))
		},
		code: 552,
	},
	{
		name: "oversize DATA",
		run: dataAs(userFull, "notifications@example.org", func(rcpt string) string {
			line := strings.Repeat("x", 70) + "\r\n"
			return header("notifications@example.org", rcpt) + "\r\n" +
				strings.Repeat(line, 2*badInputMaxSize/len(line)) + ".\r\n"
		}),
		code: 552, quit: true,
	},
	{
		// RFC 5321 section 4.5.3.1.10: 452 for one recipient too many.
		name: "too many recipients",
		run: func(t *testing.T, r *relay, c *testkit.Raw, rcpt string) testkit.Reply {
			c.HelloTLS("client.example.org")
			c.Login(userFull, r.password(userFull))
			c.Expect("MAIL FROM:<notifications@example.org>", 250)
			for i := range badInputMaxRcpts {
				c.Expect(fmt.Sprintf("RCPT TO:<%d.%s>", i, rcpt), 250)
			}
			return c.Cmd("RCPT TO:<one-too-many." + rcpt + ">")
		},
		code: 452,
	},
	{
		name: "recipient without domain",
		run: func(t *testing.T, r *relay, c *testkit.Raw, rcpt string) testkit.Reply {
			c.HelloTLS("client.example.org")
			c.Login(userFull, r.password(userFull))
			c.Expect("MAIL FROM:<notifications@example.org>", 250)
			return c.Cmd("RCPT TO:<no-domain>")
		},
		code: 501,
	},
	{
		name: "recipient with malformed domain",
		run: func(t *testing.T, r *relay, c *testkit.Raw, rcpt string) testkit.Reply {
			c.HelloTLS("client.example.org")
			c.Login(userFull, r.password(userFull))
			c.Expect("MAIL FROM:<notifications@example.org>", 250)
			return c.Cmd("RCPT TO:<bob@@example..net>")
		},
		code: 501,
	},
	{
		// RFC 5322 section 2.1.1: lines are at most 998 characters.
		name: "header line over 998 bytes",
		run: dataAs(userFull, "notifications@example.org", func(rcpt string) string {
			return header("notifications@example.org", rcpt) + "X-Long: " + strings.Repeat("y", 1100) + "\r\n\r\nbody\r\n.\r\n"
		}),
		quit: true,
	},
	{
		name: "NUL byte",
		run: dataAs(userFull, "notifications@example.org", func(rcpt string) string {
			return header("notifications@example.org", rcpt) + "\r\nnul \x00 here\r\n.\r\n"
		}),
		quit: true,
	},
	{
		// RFC 5321 section 2.3.8: CR and LF only as CRLF.
		name: "bare LF",
		run: dataAs(userFull, "notifications@example.org", func(rcpt string) string {
			return header("notifications@example.org", rcpt) + "\r\nline one\nline two\r\n.\r\n"
		}),
		quit: true,
	},
	{
		name: "bare CR",
		run: dataAs(userFull, "notifications@example.org", func(rcpt string) string {
			return header("notifications@example.org", rcpt) + "\r\nline one\rline two\r\n.\r\n"
		}),
		quit: true,
	},
	{
		// SMTP smuggling (CVE-2023-51764 and kin): <LF>.<LF> must not end
		// DATA, so the "second message" stays inside the first, which is
		// then rejected for its bare LFs. Nothing must be delivered.
		name: "LF.LF smuggling",
		run: dataAs(userFull, "notifications@example.org", func(rcpt string) string {
			return header("notifications@example.org", rcpt) + "\r\nfirst\n.\n" +
				"MAIL FROM:<notifications@example.org>\r\n" +
				"RCPT TO:<smuggled." + rcpt + ">\r\n" +
				"DATA\r\n" +
				header("notifications@example.org", "smuggled."+rcpt) + "X-Test-ID: smuggled\r\n\r\nsmuggled\r\n.\r\n"
		}),
		quit: true,
	},
	{
		name: "CR.CR smuggling",
		run: dataAs(userFull, "notifications@example.org", func(rcpt string) string {
			return header("notifications@example.org", rcpt) + "\r\nfirst\r.\r" +
				"MAIL FROM:<notifications@example.org>\r\n" +
				"RCPT TO:<smuggled." + rcpt + ">\r\n" +
				"DATA\r\n" +
				header("notifications@example.org", "smuggled."+rcpt) + "X-Test-ID: smuggled\r\n\r\nsmuggled\r\n.\r\n"
		}),
		quit: true,
	},
}

// Limits of the bad-input relay, small so the oversize rows stay cheap.
const (
	badInputMaxSize  = 64 << 10
	badInputMaxRcpts = 3
)

// TestBadInput runs every row against one relay, then checks that nothing
// reached a sink: a good message sent last (the fence) must be the only one
// accepted and delivered.
func TestBadInput(t *testing.T) {
	t.Parallel()
	_, sinks, r := testbed(t, relayOptions{configure: func(c *relayConfig) {
		c.MaxMessageSize = badInputMaxSize
		c.MaxRecipients = badInputMaxRcpts
	}})

	t.Run("rows", func(t *testing.T) {
		for i, row := range badInputs {
			t.Run(row.name, func(t *testing.T) {
				t.Parallel()
				c := testkit.DialRaw(t, r.cfg.Listen, false)
				rp := row.run(t, r, c, fmt.Sprintf("row%d@example.net", i))
				t.Logf("reply: %v", rp)
				switch {
				case row.code != 0 && rp.Code != row.code:
					t.Errorf("reply %v, want %d", rp, row.code)
				case row.code == 0 && rp.Code/100 != 5:
					t.Errorf("reply %v, want a 5xx rejection", rp)
				}
				if row.enh != "" && !strings.HasPrefix(rp.Text(), row.enh) {
					t.Errorf("reply %v, want enhanced status %s", rp, row.enh)
				}
				if row.quit {
					if q := c.Cmd("QUIT"); q.Code != 221 {
						t.Errorf("QUIT after the rejection got %v, want 221: the session is out of step (smuggled command?)", q)
					}
				}
			})
		}
	})

	fence := message{From: "notifications@example.org", To: "fence@example.net",
		Subject: "fence", TestID: "fence", Body: "the only message\n"}.bytes()
	qid := r.submit(t, submission{from: "notifications@example.org", to: []string{"fence@example.net"}, msg: fence})
	sinks.waitForTestID(t, deliveryTimeout, "fence")
	r.waitEvent(t, 10*time.Second, "delivered", forQID(qid, "fence@example.net"))
	time.Sleep(500 * time.Millisecond) // room for anything else in the queue

	for _, m := range sinks.all() {
		if testID(m) != "fence" {
			t.Errorf("a rejected input reached a sink: %s", summarize([]smtpsink.Message{m}))
		}
	}
	for _, e := range r.eventsNamed("accepted", "") {
		if e.str("qid") != qid {
			t.Errorf("the relay accepted something besides the fence: %v", e)
		}
	}
	if len(r.eventsNamed("rejected", "")) == 0 {
		t.Errorf("no rejected event logged for %d rejections", len(badInputs))
	}
	results := map[string]bool{}
	for _, e := range r.eventsNamed("auth", "") {
		if e.str("user") == userFull {
			results[e.str("result")] = true
		}
	}
	if len(results) < 2 {
		t.Errorf("auth events for %s show results %v; want both the failures and the successes", userFull, results)
	}
}
