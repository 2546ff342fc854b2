package relay

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"dkimrelay/internal/testkit"
)

// TestREQUIRETLSEndToEnd submits with MAIL FROM's REQUIRETLS (RFC 8689),
// which submission offers after STARTTLS: to a domain without MTA-STS or
// DANE the message bounces with 5.7.30 and nothing is sent. A message
// saying "TLS-Required: No" reaches a domain whose enforced policy the
// path stripped of STARTTLS.
func TestREQUIRETLSEndToEnd(t *testing.T) {
	sts := newSTSWorld(t, `
strip.test.         MX 10 mx.strip.test.
mx.strip.test.      A  127.0.0.4
mta-sts.strip.test. A  127.0.0.5
_mta-sts.strip.test. TXT "v=STSv1; id=1"
`, map[string]string{
		"strip.test": "version: STSv1\nmode: enforce\nmx: mx.strip.test\nmax_age: 604800\n",
	})
	port, lns := testkit.ListenSame(t, "127.0.0.2", "127.0.0.4")
	good, stripped := serveSink(t, lns[0]), serveSink(t, lns[1])
	h := newHardRelay(t, sts.dns, hardOptions{port: port, delivery: sts.delivery(t, false)})

	c := testkit.DialSubmission(t, h.Addr(), "app", testkit.Password)
	defer c.Close()
	if ok, _ := c.Extension("REQUIRETLS"); !ok {
		t.Fatal("submission does not offer REQUIRETLS after STARTTLS")
	}
	if err := c.Mail("app@"+hardDomain, &smtp.MailOptions{RequireTLS: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("someone@good.test", nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, hardMessage("requiretls", "someone@good.test"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ev := h.WaitEvent("bounced", 15*time.Second, func(ev map[string]any) bool { return ev["rcpt"] == "someone@good.test" })
	if !strings.Contains(fmt.Sprint(ev["reason"]), "REQUIRETLS") {
		t.Errorf("bounced event %v: want a reason naming REQUIRETLS", ev)
	}
	if n := len(good.Messages()); n != 0 {
		t.Errorf("a REQUIRETLS message reached an unauthenticated MX (%d messages)", n)
	}

	msg := strings.Replace(hardMessage("optional", "someone@strip.test"), "\r\n\r\n", "\r\nTLS-Required: No\r\n\r\n", 1)
	mustSend(t, h.Addr(), []string{"someone@strip.test"}, msg)
	testkit.AwaitMessage(t, 15*time.Second, "Hello optional.", stripped)
}
