package integration

import (
	"bytes"
	"strings"
	"testing"

	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
)

// TestDSNLongLinesFolded: a recipient with a long address whose server
// refuses it with a long reply bounces; the DSN's human-readable part
// names both, folded, and no line of the DSN exceeds RFC 5322's 998
// characters (a receiver may refuse or cut such a message).
func TestDSNLongLinesFolded(t *testing.T) {
	t.Parallel()
	_, sinks, r := testbed(t, relayOptions{})
	rcpt := strings.Repeat("l", 500) + "@example.net"
	sinks.A.SetReply(func(p smtpsink.Phase, arg string) error {
		if p == smtpsink.Rcpt && strings.EqualFold(arg, rcpt) {
			return testkit.SMTPError(550, "5.1.1", "no such user here: "+strings.Repeat("the mailbox does not exist ", 20))
		}
		return nil
	})
	msg := message{From: "notifications@example.org", To: "someone@example.net",
		Subject: "long bounce", TestID: "longbounce", Body: "nobody home\n"}.bytes()
	r.submit(t, submission{from: "notifications@example.org", to: []string{rcpt}, msg: msg})

	dsn := waitDSN(t, sinks, "notifications@example.org")
	checkDSN(t, dsn, rcpt, "5.1.1")
	for i, line := range bytes.Split(dsn.Data, []byte("\r\n")) {
		if len(line) > 998 {
			t.Errorf("DSN line %d is %d characters long: %.120q...", i+1, len(line), line)
		}
	}
	if !bytes.Contains(dsn.Data, []byte("<"+rcpt+">")) {
		t.Errorf("the DSN's text does not name <%s>", rcpt)
	}
}
