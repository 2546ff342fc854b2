package integration

import (
	"bytes"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
)

// deliveryTimeout bounds the wait for a message at a sink. Delivery starts
// at once after the 250; retries in these tests are 1-2 s apart.
const deliveryTimeout = 45 * time.Second

// testbed starts the three peers a relay needs: DNS, two sinks, the relay.
func testbed(t *testing.T, opts relayOptions) (*world, *sinkPair, *relay) {
	t.Helper()
	w := newWorld(t)
	sinks := newSinkPair(t)
	return w, sinks, newRelay(t, w, sinks, opts)
}

// TestDeliverySigned is the basic path: a message submitted over STARTTLS
// reaches the recipient's MX (hostA) over STARTTLS, unchanged apart from
// prepended header fields, with a signature both verifiers accept.
func TestDeliverySigned(t *testing.T) {
	t.Parallel()
	w, sinks, r := testbed(t, relayOptions{})

	msg := message{From: "Example <notifications@example.org>", To: "alice@example.net",
		Subject: "basic", TestID: "basic", Body: "Hello Alice.\n"}.bytes()
	qid := r.submit(t, submission{from: "notifications@example.org", to: []string{"alice@example.net"}, msg: msg})

	got := sinks.waitForTestID(t, deliveryTimeout, "basic")
	if got.Local != hostA || got.From != "notifications@example.org" || !slices.Equal(got.To, []string{"alice@example.net"}) {
		t.Errorf("delivered to %s as <%s> -> %v, want %s as <notifications@example.org> -> [alice@example.net]", got.Local, got.From, got.To, hostA)
	}
	if !got.TLS {
		t.Errorf("delivery to a host offering STARTTLS ran in cleartext")
	}
	assertUnchanged(t, msg, got.Data)
	verifyDKIM(t, w, got.Data, algRSA)

	acc := r.waitEvent(t, 5*time.Second, "accepted", forQID(qid, ""))
	if acc.str("user") != userFull || acc.str("from") != "notifications@example.org" ||
		!slices.Contains(acc.list("rcpts"), "alice@example.net") || len(acc.list("dkim")) != 1 {
		t.Errorf("accepted event %v: want user %s, from, rcpts and one dkim selector", acc, userFull)
	}
	del := r.waitEvent(t, 10*time.Second, "delivered", forQID(qid, "alice@example.net"))
	if tls := del.str("tls"); del.str("code") != "250" || tls == "" || tls == "false" || tls == "none" || del.str("mx") == "" {
		t.Errorf("delivered event %v: want code 250, tls set (true or the version) and the mx", del)
	}
}

// TestDualSignatures: with an RSA and an Ed25519 key active, each message
// carries both signatures (RFC 8463 section 4 recommends signing with both
// while receivers catch up) and each verifies on its own.
func TestDualSignatures(t *testing.T) {
	t.Parallel()
	w, sinks, r := testbed(t, relayOptions{extraKeys: []string{"ed25519"}})

	msg := message{From: "notifications@example.org", To: "alice@example.net",
		Subject: "dual", TestID: "dual", Body: "Two signatures.\n"}.bytes()
	qid := r.submit(t, submission{implicitTLS: true, from: "notifications@example.org",
		to: []string{"alice@example.net"}, msg: msg})

	got := sinks.waitForTestID(t, deliveryTimeout, "dual")
	sigs := verifyDKIM(t, w, got.Data, algRSA, algEd25519)
	if sigs[0]["s"] == sigs[1]["s"] {
		t.Errorf("both signatures use selector %q", sigs[0]["s"])
	}
	acc := r.waitEvent(t, 5*time.Second, "accepted", forQID(qid, ""))
	if n := len(acc.list("dkim")); n != 2 {
		t.Errorf("accepted event names %d dkim selector(s), want 2: %v", n, acc)
	}
}

// TestMXFallback: the preferred MX is down (connection refused), so the
// message goes to the next one (RFC 5321 section 5.1).
func TestMXFallback(t *testing.T) {
	t.Parallel()
	w, sinks, r := testbed(t, relayOptions{})
	sinks.A.Close()

	msg := message{From: "notifications@example.org", To: "bob@example.net",
		Subject: "fallback", TestID: "fallback", Body: "via mx2\n"}.bytes()
	qid := r.submit(t, submission{from: "notifications@example.org", to: []string{"bob@example.net"}, msg: msg})

	got := sinks.waitForTestID(t, deliveryTimeout, "fallback")
	if got.Local != hostB {
		t.Errorf("delivered at %s, want the second MX %s", got.Local, hostB)
	}
	verifyDKIM(t, w, got.Data, algRSA)
	del := r.waitEvent(t, 10*time.Second, "delivered", forQID(qid, "bob@example.net"))
	if mx := del.str("mx"); !strings.Contains(mx, "mx2.example.net") && !strings.Contains(mx, hostB) {
		t.Errorf("delivered event names mx %q, want mx2.example.net", mx)
	}
}

// TestTempFailThenRetry: a 451 defers the recipient (RFC 5321 section
// 4.2.5) and the retry delivers it, once.
func TestTempFailThenRetry(t *testing.T) {
	t.Parallel()
	w, sinks, r := testbed(t, relayOptions{})
	const rcpt = "carol@example.com" // single MX: hostB
	var mu sync.Mutex
	refused := 0
	sinks.B.SetReply(func(p smtpsink.Phase, arg string) error {
		mu.Lock()
		defer mu.Unlock()
		if p == smtpsink.Rcpt && strings.EqualFold(arg, rcpt) && refused == 0 {
			refused++
			return testkit.SMTPError(451, "4.3.0", "greylisted, try again later")
		}
		return nil
	})

	msg := message{From: "notifications@example.org", To: rcpt,
		Subject: "retry", TestID: "retry", Body: "second time lucky\n"}.bytes()
	qid := r.submit(t, submission{from: "notifications@example.org", to: []string{rcpt}, msg: msg})

	got := sinks.waitForTestID(t, deliveryTimeout, "retry")
	verifyDKIM(t, w, got.Data, algRSA)
	def := r.waitEvent(t, 5*time.Second, "deferred", forQID(qid, rcpt))
	if def.str("reason") == "" || def.str("next_attempt") == "" {
		t.Errorf("deferred event %v: want reason and next_attempt", def)
	}
	r.waitEvent(t, 10*time.Second, "delivered", forQID(qid, rcpt))
	if n := sinks.B.RcptAttempts(rcpt); n < 2 {
		t.Errorf("sink saw %d RCPT for %s, want the refused one and the retry", n, rcpt)
	}
	time.Sleep(500 * time.Millisecond) // room for a wrong extra delivery
	if n := len(withTestID(sinks.all(), "retry")); n != 1 {
		t.Errorf("message delivered %d times, want once", n)
	}
}

// TestPermFailBounce: a 550 is final: no retry, no other MX, and a DSN
// (RFC 3464, multipart/report per RFC 6522) goes from the null sender to the
// envelope sender, whose MX is hostB.
func TestPermFailBounce(t *testing.T) {
	t.Parallel()
	_, sinks, r := testbed(t, relayOptions{})
	const rcpt = "unknown@example.net"
	sinks.A.SetReply(func(p smtpsink.Phase, arg string) error {
		if p == smtpsink.Rcpt && strings.EqualFold(arg, rcpt) {
			return testkit.SMTPError(550, "5.1.1", "no such user")
		}
		return nil
	})

	msg := message{From: "notifications@example.org", To: rcpt,
		Subject: "bounce me", TestID: "bounce", Body: "nobody home\n"}.bytes()
	qid := r.submit(t, submission{from: "notifications@example.org", to: []string{rcpt}, msg: msg})

	dsn := waitDSN(t, sinks, "notifications@example.org")
	checkDSN(t, dsn, rcpt, "5.1.1")
	b := r.waitEvent(t, 10*time.Second, "bounced", forQID(qid, rcpt))
	if b.str("code") != "550" || b.str("reason") == "" {
		t.Errorf("bounced event %v: want code 550 and a reason", b)
	}
	if n := sinks.B.RcptAttempts(rcpt); n != 0 {
		t.Errorf("after a 550 from the first MX the relay tried the second one %d time(s)", n)
	}
	if n := sinks.A.RcptAttempts(rcpt); n != 1 {
		t.Errorf("first MX saw %d RCPT for %s after a 550, want 1 (no retry)", n, rcpt)
	}
}

// TestNullMXBounce: a domain publishing "MX 0 ." accepts no mail (RFC 7505
// section 3): the relay bounces at once instead of retrying.
func TestNullMXBounce(t *testing.T) {
	t.Parallel()
	_, sinks, r := testbed(t, relayOptions{})
	const rcpt = "erin@nullmx.example"

	msg := message{From: "notifications@example.org", To: rcpt,
		Subject: "null mx", TestID: "nullmx", Body: "no mail here\n"}.bytes()
	qid := r.submit(t, submission{from: "notifications@example.org", to: []string{rcpt}, msg: msg})

	dsn := waitDSN(t, sinks, "notifications@example.org")
	checkDSN(t, dsn, rcpt, "5.")
	r.waitEvent(t, 10*time.Second, "bounced", forQID(qid, rcpt))
	if d := r.eventsNamed("deferred", qid); len(d) != 0 {
		t.Errorf("null MX was retried: %v", d)
	}
}

// TestSmarthostAuth: in smarthost mode every message goes to the one host,
// after STARTTLS and AUTH PLAIN, whatever the recipient's MX says.
func TestSmarthostAuth(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	smarthostPW := randomSecret()
	// The smarthost on hostA takes mail after AUTH PLAIN as relayuser
	// only (go-smtp offers AUTH after STARTTLS).
	sinks := newSinkPair(t, func(host string, c *smtpsink.Config) {
		if host == hostA {
			c.RequireAuth, c.AuthMechs, c.Users = true, []string{sasl.Plain}, map[string]string{"relayuser": smarthostPW}
		}
	})
	pwFile := writeSecretFile(t, t.TempDir(), "smarthost.pw", smarthostPW)

	r := newRelay(t, w, sinks, relayOptions{configure: func(c *relayConfig) {
		c.Delivery.Mode = "smarthost"
		c.Delivery.Smarthost = fmt.Sprintf("%s:%d", hostA, sinks.Port)
		c.Delivery.SmarthostUser = "relayuser"
		c.Delivery.SmarthostPasswordFile = pwFile
		c.Delivery.SmarthostTLS = "starttls"
		c.Delivery.InsecureSkipVerify = true
	}})
	r.secrets = append(r.secrets, smarthostPW)

	const rcpt = "frank@example.com" // its MX is hostB; the smarthost is hostA
	msg := message{From: "notifications@example.org", To: rcpt,
		Subject: "smarthost", TestID: "smarthost", Body: "via the smarthost\n"}.bytes()
	qid := r.submit(t, submission{from: "notifications@example.org", to: []string{rcpt}, msg: msg})

	got := sinks.waitForTestID(t, deliveryTimeout, "smarthost")
	if got.Local != hostA {
		t.Errorf("delivered at %s, want the smarthost %s", got.Local, hostA)
	}
	if got.User != "relayuser" || !got.TLS {
		t.Errorf("smarthost session: auth user %q, TLS %t; want relayuser over TLS", got.User, got.TLS)
	}
	verifyDKIM(t, w, got.Data, algRSA)
	r.waitEvent(t, 10*time.Second, "delivered", forQID(qid, rcpt))
	if n := len(sinks.B.Messages()); n != 0 {
		t.Errorf("the recipient's MX got %d message(s) directly in smarthost mode", n)
	}
}

// TestRecipientsAcrossDomains: one message to recipients at two domains is
// split per MX; each recipient gets exactly one signed copy.
func TestRecipientsAcrossDomains(t *testing.T) {
	t.Parallel()
	w, sinks, r := testbed(t, relayOptions{})
	rcpts := map[string]string{ // recipient -> host of its MX
		"alice@example.net": hostA,
		"carol@example.net": hostA,
		"bob@example.com":   hostB,
	}
	to := []string{"alice@example.net", "bob@example.com", "carol@example.net"}
	msg := message{From: "notifications@example.org", To: strings.Join(to, ", "),
		Subject: "three", TestID: "multi", Body: "to everyone\n"}.bytes()
	qid := r.submit(t, submission{implicitTLS: true, from: "notifications@example.org", to: to, msg: msg})

	countRcpts := func(ms []smtpsink.Message) int {
		n := 0
		for _, m := range withTestID(ms, "multi") {
			n += len(m.To)
		}
		return n
	}
	sinks.waitFor(t, deliveryTimeout, "three recipients", func(ms []smtpsink.Message) bool { return countRcpts(ms) >= 3 })
	time.Sleep(300 * time.Millisecond) // room for a wrong extra copy
	seen := map[string]int{}
	for _, m := range withTestID(sinks.all(), "multi") {
		for _, rc := range m.To {
			seen[strings.ToLower(rc)]++
			if want := rcpts[strings.ToLower(rc)]; m.Local != want {
				t.Errorf("%s delivered at %s, want %s", rc, m.Local, want)
			}
		}
		verifyDKIM(t, w, m.Data, algRSA)
	}
	for rc := range rcpts {
		if seen[rc] != 1 {
			t.Errorf("%s got %d copies, want 1", rc, seen[rc])
		}
		r.waitEvent(t, 10*time.Second, "delivered", forQID(qid, rc))
	}
}

// TestLargeMessage: 10 MB goes through intact and signed (the body hash is
// computed over all of it, RFC 6376 section 3.7).
func TestLargeMessage(t *testing.T) {
	t.Parallel()
	w, sinks, r := testbed(t, relayOptions{})
	var body strings.Builder
	line := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/", 1) + "0123456789AB"
	for i := 0; body.Len() < 10<<20; i++ {
		fmt.Fprintf(&body, "%08d %s\n", i, line)
	}
	msg := message{From: "notifications@example.org", To: "alice@example.net",
		Subject: "ten megabytes", TestID: "large", Body: body.String()}.bytes()
	r.submit(t, submission{implicitTLS: true, from: "notifications@example.org",
		to: []string{"alice@example.net"}, msg: msg, opts: &smtp.MailOptions{Size: int64(len(msg))}})

	got := sinks.waitForTestID(t, 90*time.Second, "large")
	assertUnchanged(t, msg, got.Data)
	verifyDKIM(t, w, got.Data, algRSA)
}

// TestUTF8Message: a raw UTF-8 Subject (RFC 6532, sent with SMTPUTF8) and an
// 8-bit body (8BITMIME, RFC 6152) arrive byte for byte and verify.
func TestUTF8Message(t *testing.T) {
	t.Parallel()
	w, sinks, r := testbed(t, relayOptions{})
	msg := message{From: "notifications@example.org", To: "alice@example.net",
		Subject: "Grüße aus Zürich – ✓ 日本語", TestID: "utf8",
		Headers: []string{"Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"},
		Body:    "Größe: naïve café, 東京 🚀\nZweite Zeile: äöüß\n"}.bytes()
	r.submit(t, submission{from: "notifications@example.org", to: []string{"alice@example.net"},
		msg: msg, opts: &smtp.MailOptions{UTF8: true, Body: smtp.Body8BitMIME}})

	got := sinks.waitForTestID(t, deliveryTimeout, "utf8")
	assertUnchanged(t, msg, got.Data)
	verifyDKIM(t, w, got.Data, algRSA)
}

// TestMissingDateAndMessageID: RFC 5322 section 3.6 requires Date and
// recommends Message-ID; RFC 6409 section 8 lets the submission server add
// them. They must be added before signing, so they are signed.
func TestMissingDateAndMessageID(t *testing.T) {
	t.Parallel()
	w, sinks, r := testbed(t, relayOptions{})
	msg := message{From: "notifications@example.org", To: "alice@example.net",
		Subject: "bare", TestID: "bare", NoDate: true, NoMsgID: true, Body: "no date, no id\n"}.bytes()
	r.submit(t, submission{from: "notifications@example.org", to: []string{"alice@example.net"}, msg: msg})

	got := sinks.waitForTestID(t, deliveryTimeout, "bare")
	parsed, err := mail.ReadMessage(bytes.NewReader(got.Data))
	if err != nil {
		t.Fatalf("delivered message does not parse: %v", err)
	}
	if d := parsed.Header["Date"]; len(d) != 1 {
		t.Errorf("delivered message has %d Date fields, want 1", len(d))
	} else if _, err := mail.ParseDate(d[0]); err != nil {
		t.Errorf("added Date %q: %v", d[0], err)
	}
	if id := parsed.Header["Message-Id"]; len(id) != 1 {
		t.Errorf("delivered message has %d Message-ID fields, want 1", len(id))
	} else if v := strings.TrimSpace(id[0]); !strings.HasPrefix(v, "<") || !strings.HasSuffix(v, ">") || !strings.Contains(v, "@") {
		t.Errorf("added Message-ID %q is not <id@domain>", v)
	}
	for _, sig := range verifyDKIM(t, w, got.Data, algRSA) {
		h := signedHeaders(sig)
		if !slices.Contains(h, "date") || !slices.Contains(h, "message-id") {
			t.Errorf("signature h=%s does not cover the added Date and Message-ID", sig["h"])
		}
	}
}

// assertUnchanged checks that the relay only prepended header fields
// (signatures, Received): the submitted bytes end the delivered message.
func assertUnchanged(t *testing.T, submitted, delivered []byte) {
	t.Helper()
	if !bytes.HasSuffix(delivered, submitted) {
		n := len(delivered)
		if n > 300 {
			n = 300
		}
		t.Errorf("delivered message (%d bytes) does not end with the %d submitted bytes; it starts %q",
			len(delivered), len(submitted), delivered[:n])
	}
}
