package testkit

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Send runs one mail transaction on an open client, with opts for MAIL,
// and returns the queue ID of the relay's 250 reply ("queued as QID").
// An error says which step failed; an *smtp.SMTPError in its chain is the
// server's refusal.
func Send(c *smtp.Client, from string, to []string, msg []byte, opts *smtp.MailOptions) (string, error) {
	if err := c.Mail(from, opts); err != nil {
		return "", fmt.Errorf("MAIL FROM:<%s>: %w", from, err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt, nil); err != nil {
			return "", fmt.Errorf("RCPT TO:<%s>: %w", rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return "", fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return "", fmt.Errorf("writing the message: %w", err)
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return "", fmt.Errorf("end of DATA: %w", err)
	}
	_, qid, ok := strings.Cut(resp.StatusText, "queued as ")
	if !ok || strings.TrimSpace(qid) == "" {
		return "", fmt.Errorf("end of DATA: 250 %q does not say \"queued as QID\"", resp.StatusText)
	}
	return strings.TrimSpace(qid), nil
}

// Transact is Send for a test: it returns the queue ID or the server's
// refusal, and fails the test on anything else.
func Transact(t testing.TB, c *smtp.Client, from string, to []string, msg string) (string, *smtp.SMTPError) {
	t.Helper()
	qid, err := Send(c, from, to, []byte(msg), nil)
	if err == nil {
		return qid, nil
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return "", se
	}
	t.Fatalf("submission: %v", err)
	return "", nil
}

// OpenSubmission opens a submission session as an application does:
// STARTTLS (trusting any certificate), then AUTH PLAIN as user. It is for
// the goroutines of a test, which must not fail it themselves (a relay
// killed under them, say); DialSubmission is for the test.
func OpenSubmission(addr, user, password string) (*smtp.Client, error) {
	c, err := smtp.DialStartTLS(addr, ClientTLS())
	if err != nil {
		return nil, fmt.Errorf("submission to %s: %w", addr, err)
	}
	if err := c.Auth(sasl.NewPlainClient("", user, password)); err != nil {
		c.Close()
		return nil, fmt.Errorf("AUTH PLAIN as %s: %w", user, err)
	}
	return c, nil
}

// DialSubmission is OpenSubmission for a test, which it fails when the
// session does not open. The session is closed when the test ends.
func DialSubmission(t testing.TB, addr, user, password string) *smtp.Client {
	t.Helper()
	c, err := OpenSubmission(addr, user, password)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
