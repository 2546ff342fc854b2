package integration

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// TestAllowInternalOff: a relay with delivery.allow_internal at its
// default (off) refuses an address literal of loopback at RCPT, and
// defers mail whose MX hosts (the sinks, on 127.0.0.x) are internal, with
// a reason naming the setting; nothing reaches them.
func TestAllowInternalOff(t *testing.T) {
	t.Parallel()
	_, sinks, r := testbed(t, relayOptions{configure: func(c *relayConfig) { c.Delivery.DenyInternal = true }})

	c, err := r.dial(userFull, false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("notifications@example.org", nil); err != nil {
		t.Fatal(err)
	}
	err = c.Rcpt("x@[127.0.0.1]", nil)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 550 || !strings.Contains(se.Message, "allow_internal") {
		t.Errorf("RCPT TO:<x@[127.0.0.1]>: %v, want 550 naming delivery.allow_internal", err)
	}
	c.Quit()

	msg := message{From: "notifications@example.org", To: "alice@example.net",
		Subject: "internal", TestID: "internal", Body: "To an internal MX.\n"}.bytes()
	qid := r.submit(t, submission{from: "notifications@example.org", to: []string{"alice@example.net"}, msg: msg})
	d := r.waitEvent(t, 20*time.Second, "deferred", forQID(qid, "alice@example.net"))
	if reason := d.str("reason"); !strings.Contains(reason, "internal") || !strings.Contains(reason, "allow_internal") {
		t.Errorf("deferred event %v: want a reason naming the internal address and delivery.allow_internal", d)
	}
	if n := len(sinks.A.Messages()) + len(sinks.B.Messages()); n != 0 {
		t.Errorf("the internal MX hosts got %d messages", n)
	}
}
