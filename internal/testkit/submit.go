package testkit

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
)

// Transact runs one mail transaction on an open client and returns the
// queue ID of the relay's 250 reply ("queued as QID"), or the refusal.
// Any other failure fails the test.
func Transact(t testing.TB, c *smtp.Client, from string, to []string, msg string) (string, *smtp.SMTPError) {
	t.Helper()
	refused := func(err error) *smtp.SMTPError {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return se
		}
		t.Fatalf("submission: %v", err)
		return nil
	}
	if err := c.Mail(from, nil); err != nil {
		return "", refused(err)
	}
	for _, rc := range to {
		if err := c.Rcpt(rc, nil); err != nil {
			return "", refused(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return "", refused(err)
	}
	io.WriteString(w, msg)
	resp, err := w.CloseWithResponse()
	if err != nil {
		return "", refused(err)
	}
	_, qid, ok := strings.Cut(resp.StatusText, "queued as ")
	if !ok {
		t.Fatalf("250 without a queue ID: %q", resp.StatusText)
	}
	return strings.TrimSpace(qid), nil
}
