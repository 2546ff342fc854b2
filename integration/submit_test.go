package integration

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"dkimrelay/internal/testkit"
)

// queuedAs finds the QID in "250 2.0.0 OK: queued as QID" (see the README).
var queuedAs = regexp.MustCompile(`queued as (\S+)`)

// dial connects to the relay's STARTTLS listener (upgrading at once) or its
// implicit-TLS one, and logs in when user is not "".
func (r *relay) dial(user string, implicitTLS bool) (*smtp.Client, error) {
	var c *smtp.Client
	var err error
	if implicitTLS {
		c, err = smtp.DialTLS(r.cfg.ListenTLS, testkit.ClientTLS())
		if err == nil {
			err = c.Hello("client.example.org")
		}
	} else {
		// DialStartTLS says EHLO itself (as "localhost") before STARTTLS.
		c, err = smtp.DialStartTLS(r.cfg.Listen, testkit.ClientTLS())
	}
	if err != nil {
		if c != nil {
			c.Close()
		}
		return nil, err
	}
	c.CommandTimeout = time.Minute
	c.SubmissionTimeout = 2 * time.Minute
	if user != "" {
		if err := c.Auth(sasl.NewPlainClient("", user, r.password(user))); err != nil {
			c.Close()
			return nil, fmt.Errorf("AUTH PLAIN as %s: %w", user, err)
		}
	}
	return c, nil
}

// submit sends one message on a connection of its own, as userFull over
// STARTTLS unless told otherwise, and fails the test unless it got a 250.
func (r *relay) submit(t testing.TB, s submission) string {
	t.Helper()
	user := s.user
	if user == "" {
		user = userFull
	}
	c, err := r.dial(user, s.implicitTLS)
	if err != nil {
		t.Fatalf("submission: %v", err)
	}
	defer c.Close()
	qid, err := testkit.Send(c, s.from, s.to, s.msg, s.opts)
	if err != nil {
		t.Fatalf("submission: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Errorf("QUIT: %v", err)
	}
	return qid
}

type submission struct {
	user        string
	implicitTLS bool
	from        string
	to          []string
	msg         []byte
	opts        *smtp.MailOptions
}

// message is a test message; bytes renders it with CRLF line ends.
type message struct {
	From    string
	To      string
	Subject string
	TestID  string // X-Test-ID, how the sinks tell messages apart
	NoDate  bool
	NoMsgID bool
	Headers []string // further header lines, without CRLF
	Body    string   // "\n" line ends are turned into CRLF
}

func (m message) bytes() []byte {
	var b strings.Builder
	h := func(line string) { b.WriteString(line + "\r\n") }
	h("From: " + m.From)
	h("To: " + m.To)
	h("Subject: " + m.Subject)
	if !m.NoDate {
		h("Date: " + time.Now().Format(time.RFC1123Z))
	}
	if !m.NoMsgID {
		h("Message-ID: <" + randomToken() + "@client.example.org>")
	}
	if m.TestID != "" {
		h("X-Test-ID: " + m.TestID)
	}
	h("MIME-Version: 1.0")
	for _, line := range m.Headers {
		h(line)
	}
	b.WriteString("\r\n")
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
	if body != "" && !strings.HasSuffix(body, "\r\n") {
		body += "\r\n"
	}
	b.WriteString(body)
	return []byte(b.String())
}

func randomToken() string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
