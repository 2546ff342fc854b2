package verify

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	msgauth "github.com/emersion/go-msgauth/dkim"

	"dkimrelay/dkim"
	"dkimrelay/internal/testkit"
	"dkimrelay/resolver"
	"dkimrelay/resolver/dnstest"
)

const testMessage = "From: Mastodon <notifications@example.org>\r\n" +
	"To: alice@example.net\r\n" +
	"Subject: New follower\r\n" +
	"Date: Thu, 26 Nov 2026 07:06:00 +0000\r\n" +
	"Message-ID: <t1@example.org>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"\r\n" +
	"Bob is now following you.\r\n"

// trace is what the receiver puts on top of a message it accepts.
const trace = "Return-Path: <bounces@example.org>\r\n" +
	"Received: from mail.example.org (mail.example.org [192.0.2.10])\r\n" +
	"\tby mx.example.net with ESMTPS id 4abc; Thu, 26 Nov 2026 07:06:02 +0000\r\n"

var (
	rsaOnce          sync.Once
	rsaKey, rsaOther *rsa.PrivateKey
)

func rsaKeys(t *testing.T) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	rsaOnce.Do(func() {
		rsaKey, _ = rsa.GenerateKey(rand.Reader, 2048)
		rsaOther, _ = rsa.GenerateKey(rand.Reader, 2048)
	})
	if rsaKey == nil || rsaOther == nil {
		t.Fatal("generating RSA test keys failed")
	}
	return rsaKey, rsaOther
}

func record(t *testing.T, k dkim.Key, pub any) string {
	t.Helper()
	v, err := dkim.RecordValue(pub)
	if err != nil {
		t.Fatal(err)
	}
	return txt(k.Selector+"._domainkey."+k.Domain+".", v)
}

// txt is a TXT record in zone-file form, split in 255-byte strings.
func txt(owner, value string) string {
	var parts []string
	for len(value) > 255 {
		parts = append(parts, `"`+value[:255]+`"`)
		value = value[255:]
	}
	parts = append(parts, `"`+value+`"`)
	return owner + " 300 IN TXT " + strings.Join(parts, " ")
}

type world struct {
	dns     *dnstest.Server
	v       *Verifier
	rsa     dkim.Key
	ed      dkim.Key
	edPriv  ed25519.PrivateKey
	rsaPriv *rsa.PrivateKey
	other   *rsa.PrivateKey
}

// newWorld starts a DNS server publishing example.org's keys, SPF record
// (192.0.2.10) and DMARC record (p=reject).
func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{dns: dnstest.NewServer(t)}
	w.rsaPriv, w.other = rsaKeys(t)
	_, w.edPriv, _ = ed25519.GenerateKey(rand.Reader)
	w.rsa = dkim.Key{Domain: "example.org", Selector: "rsa1", Signer: w.rsaPriv}
	w.ed = dkim.Key{Domain: "example.org", Selector: "ed1", Signer: w.edPriv}
	w.dns.Add(
		record(t, w.rsa, w.rsaPriv.Public()),
		record(t, w.ed, w.edPriv.Public()),
		txt("example.org.", "v=spf1 ip4:192.0.2.10 -all"),
		txt("_dmarc.example.org.", "v=DMARC1; p=reject; rua=mailto:dmarc@example.org"),
	)
	res, err := resolver.New(resolver.Options{Servers: []string{w.dns.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	w.v = &Verifier{Resolver: res, Hostname: "mail.example.org"}
	return w
}

func (w *world) check(t *testing.T, msg string, env Envelope) *Report {
	t.Helper()
	r, err := w.v.Check(context.Background(), []byte(msg), env)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return r
}

func kinds(r *Report) string {
	var out []string
	for _, s := range r.DKIM {
		out = append(out, s.Selector+":"+string(s.Kind))
	}
	return strings.Join(out, " ")
}

func TestPass(t *testing.T) {
	w := newWorld(t)
	signed := trace + testkit.Sign(t, testMessage, w.rsa, w.ed)
	for name, msg := range map[string]string{
		"CRLF": signed,
		// Pasted from a mail client: LF line endings.
		"LF": strings.ReplaceAll(signed, "\r\n", "\n"),
	} {
		t.Run(name, func(t *testing.T) {
			r := w.check(t, msg, Envelope{})
			if got, want := kinds(r), "rsa1:pass ed1:pass"; got != want {
				t.Errorf("DKIM = %s, want %s", got, want)
			}
			if r.SPF.Status != StatusPass || r.SPF.IP != "192.0.2.10" || r.SPF.Domain != "example.org" {
				t.Errorf("SPF = %+v, want a pass for 192.0.2.10 from the Received field", r.SPF)
			}
			if r.DMARC.Status != StatusPass || r.DMARC.Policy != "reject" || !r.DMARC.DKIMAligned || !r.DMARC.SPFAligned {
				t.Errorf("DMARC = %+v, want an aligned pass under p=reject", r.DMARC)
			}
			if r.Failed() {
				t.Error("Failed() = true for a message that passes everything")
			}
			var out bytes.Buffer
			if err := r.WriteText(&out); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"DKIM   pass    d=example.org s=rsa1 a=rsa-sha256", "DKIM   pass    d=example.org s=ed1 a=ed25519-sha256", "SPF    pass    192.0.2.10 is authorized", "DMARC  pass    DKIM aligns"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("report lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

// TestDKIMFailures makes each kind of DKIM failure happen to a message
// and checks the verdict and that the explanation says it in words.
func TestDKIMFailures(t *testing.T) {
	tests := []struct {
		name    string
		key     func(w *world) dkim.Key
		setup   func(t *testing.T, w *world) // changes DNS
		alter   func(msg string) string      // changes the message in transit
		kind    Kind
		explain string
	}{
		{
			name:    "body modified",
			key:     func(w *world) dkim.Key { return w.ed },
			alter:   func(m string) string { return m + "--\r\nSent through the list\r\n" },
			kind:    BodyModified,
			explain: "the body was modified in transit",
		},
		{
			name:    "header added after signing",
			key:     func(w *world) dkim.Key { return w.ed },
			alter:   func(m string) string { return "Subject: [ad] buy now\r\n" + m },
			kind:    HeaderAdded,
			explain: `a header field was added after signing: "Subject: [ad] buy now"`,
		},
		{
			name: "header modified",
			key:  func(w *world) dkim.Key { return w.rsa },
			alter: func(m string) string {
				return strings.Replace(m, "Subject: New follower", "Subject: [SPAM] New follower", 1)
			},
			kind:    HeaderModified,
			explain: "was changed after signing: the key at rsa1._domainkey.example.org made this signature",
		},
		{
			name: "key mismatch",
			key:  func(w *world) dkim.Key { return w.rsa },
			setup: func(t *testing.T, w *world) {
				w.dns.Add(record(t, dkim.Key{Domain: "example.org", Selector: "wrong"}, w.other.Public()))
			},
			alter: func(m string) string {
				return strings.Replace(m, "s=rsa1;", "s=wrong;", 1)
			},
			kind:    KeyMismatch,
			explain: "key mismatch: the key published at wrong._domainkey.example.org is not the key that made this signature",
		},
		{
			name:    "Ed25519 header modified or key mismatch",
			key:     func(w *world) dkim.Key { return w.ed },
			alter:   func(m string) string { return strings.Replace(m, "To: alice@", "To: mallory@", 1) },
			kind:    HeaderOrKey,
			explain: "either a header field it covers",
		},
		{
			name:    "selector not published",
			key:     func(*world) dkim.Key { return dkim.Key{Domain: "example.org", Selector: "gone"} },
			kind:    SelectorNotPublished,
			explain: "selector not published: DNS has no key record at gone._domainkey.example.org (no such name)",
		},
		{
			name: "key revoked",
			key:  func(*world) dkim.Key { return dkim.Key{Domain: "example.org", Selector: "old"} },
			setup: func(t *testing.T, w *world) {
				w.dns.Add(txt("old._domainkey.example.org.", "v=DKIM1; k=ed25519; p="))
			},
			kind:    KeyRevoked,
			explain: "is revoked (its p= is empty)",
		},
		{
			name: "record is not a key",
			key:  func(*world) dkim.Key { return dkim.Key{Domain: "example.org", Selector: "junk"} },
			setup: func(t *testing.T, w *world) {
				w.dns.Add(txt("junk._domainkey.example.org.", "v=DKIM1; k=ed25519; p=bm90IGEga2V5"))
			},
			kind:    KeyInvalid,
			explain: "is not a usable DKIM key",
		},
		{
			name: "DNS failing",
			key:  func(*world) dkim.Key { return dkim.Key{Domain: "example.org", Selector: "flaky"} },
			setup: func(t *testing.T, w *world) {
				w.dns.SetServfail("flaky._domainkey.example.org.")
			},
			kind:    DNSFailure,
			explain: "a temporary DNS failure",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			k := tt.key(w)
			if k.Signer == nil {
				k.Signer = w.edPriv
			}
			if tt.setup != nil {
				tt.setup(t, w)
			}
			msg := testkit.Sign(t, testMessage, k)
			if tt.alter != nil {
				msg = tt.alter(msg)
			}
			r := w.check(t, trace+msg, Envelope{})
			if len(r.DKIM) != 1 {
				t.Fatalf("got %d signatures, want 1", len(r.DKIM))
			}
			s := r.DKIM[0]
			if s.Kind != tt.kind {
				t.Fatalf("kind = %s (%s: %s), want %s", s.Kind, s.Detail, s.Explanation, tt.kind)
			}
			if !strings.Contains(s.Explanation, tt.explain) {
				t.Errorf("explanation %q lacks %q", s.Explanation, tt.explain)
			}
			if !r.Failed() {
				t.Error("Failed() = false with a failing signature")
			}
			// SPF alone still aligns: DMARC passes, through SPF.
			if r.DMARC.Status != StatusPass || r.DMARC.DKIMAligned || !r.DMARC.SPFAligned {
				t.Errorf("DMARC = %+v, want a pass through SPF alone", r.DMARC)
			}
		})
	}
}

func TestNoSignature(t *testing.T) {
	w := newWorld(t)
	r := w.check(t, trace+testMessage, Envelope{})
	if len(r.DKIM) != 0 || !strings.Contains(r.DKIMNote, "no DKIM-Signature field") || !r.Failed() {
		t.Errorf("DKIM = %v, note %q, failed %v; want none, explained, failed", r.DKIM, r.DKIMNote, r.Failed())
	}
}

func TestSPFAndDMARCFailures(t *testing.T) {
	w := newWorld(t)
	// Signed by a domain that does not align with From:, sent from an
	// address the SPF record does not authorize.
	third := dkim.Key{Domain: "mailer.example.com", Selector: "s1", Signer: w.edPriv}
	w.dns.Add(record(t, third, w.edPriv.Public()))
	msg := testkit.Sign(t, testMessage, third)
	r := w.check(t, msg, Envelope{IP: net.ParseIP("198.51.100.7"), MailFrom: "bounces@example.org", MailFromSet: true})
	if got := kinds(r); got != "s1:pass" {
		t.Errorf("DKIM = %s, want s1:pass", got)
	}
	if r.SPF.Status != StatusFail || !strings.Contains(r.SPF.Explanation, "198.51.100.7 is not authorized by example.org's SPF record") ||
		!strings.Contains(r.SPF.Explanation, "add ip4:198.51.100.7") {
		t.Errorf("SPF = %+v, want a fail naming the address and the term to add", r.SPF)
	}
	if r.DMARC.Status != StatusFail || !strings.Contains(r.DMARC.Explanation, "d=mailer.example.com, which does not align with example.org") ||
		!strings.Contains(r.DMARC.Explanation, "refuse such mail (p=reject)") {
		t.Errorf("DMARC = %+v, want a fail naming the unaligned signer and the policy", r.DMARC)
	}
	if !r.Failed() {
		t.Error("Failed() = false with SPF and DMARC failing")
	}
}

func TestNoDMARCRecord(t *testing.T) {
	w := newWorld(t)
	k := dkim.Key{Domain: "example.net", Selector: "s1", Signer: w.edPriv}
	w.dns.Add(record(t, k, w.edPriv.Public()))
	msg := testkit.Sign(t, strings.Replace(testMessage, "notifications@example.org", "notifications@example.net", 1), k)
	r := w.check(t, msg, Envelope{})
	if r.SPF.Status != StatusSkipped || !strings.Contains(r.SPF.Explanation, "--mail-from") {
		t.Errorf("SPF = %+v, want skipped for lack of a Return-Path", r.SPF)
	}
	if r.DMARC.Status != StatusNone || !strings.Contains(r.DMARC.Explanation, "publish _dmarc.example.net") {
		t.Errorf("DMARC = %+v, want none with the record to publish", r.DMARC)
	}
	if r.Failed() {
		t.Error("Failed() = true: a missing DMARC record with DKIM passing is not a failure")
	}
}

// TestKeyLookupWithoutDNS checks DKIM against keys given directly, as for
// the try-out relay, with SPF and DMARC skipped.
func TestKeyLookupWithoutDNS(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	k := dkim.Key{Domain: "dkimrelay.test", Selector: "try", Signer: priv}
	value, _ := dkim.RecordValue(priv.Public())
	v := &Verifier{KeyLookup: func(_ context.Context, name string) ([]string, error) {
		if name == "try._domainkey.dkimrelay.test" {
			return []string{value}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}}
	msg := testkit.Sign(t, strings.ReplaceAll(testMessage, "example.org", "dkimrelay.test"), k)
	r, err := v.Check(context.Background(), []byte(msg), Envelope{})
	if err != nil {
		t.Fatal(err)
	}
	if kinds(r) != "try:pass" || r.SPF.Status != StatusSkipped || r.DMARC.Status != StatusSkipped || r.Failed() {
		t.Errorf("got DKIM %s, SPF %s, DMARC %s, failed %v; want a pass with SPF and DMARC skipped", kinds(r), r.SPF.Status, r.DMARC.Status, r.Failed())
	}
}

func TestNotAMessage(t *testing.T) {
	v := &Verifier{}
	if _, err := v.Check(context.Background(), []byte("\r\njust text\r\n"), Envelope{}); err == nil {
		t.Error("Check accepted input without a header")
	}
}

// TestExpiredAndMalformed: a signature whose x= has passed (made with
// go-msgauth's signer, which writes x=), and one whose b= a gateway cut.
func TestExpiredAndMalformed(t *testing.T) {
	w := newWorld(t)
	var out bytes.Buffer
	err := msgauth.Sign(&out, strings.NewReader(testMessage), &msgauth.SignOptions{
		Domain: "example.org", Selector: "ed1", Signer: w.edPriv,
		Expiration: time.Now().Add(-time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := w.check(t, trace+out.String(), Envelope{})
	if len(r.DKIM) != 1 || r.DKIM[0].Kind != Expired || !strings.Contains(r.DKIM[0].Explanation, "the signature expired (x=") {
		t.Errorf("expired signature: %+v", r.DKIM)
	}

	signed := testkit.Sign(t, testMessage, w.ed)
	cut := regexp.MustCompile(`b=[A-Za-z0-9+/=\s]+$`).ReplaceAllString(strings.SplitN(signed, "\r\nFrom:", 2)[0], "") + "\r\nFrom:" + strings.SplitN(signed, "\r\nFrom:", 2)[1]
	r = w.check(t, trace+cut, Envelope{})
	if len(r.DKIM) != 1 || r.DKIM[0].Kind != Malformed || !strings.Contains(r.DKIM[0].Explanation, "malformed") {
		t.Errorf("signature without b=: %+v", r.DKIM)
	}
}

// TestEd25519WithOwnKeys: with the relay's own key records at hand, an
// Ed25519 failure is told apart too: the published key is the relay's (a
// header changed) or another (key mismatch).
func TestEd25519WithOwnKeys(t *testing.T) {
	w := newWorld(t)
	value, _ := dkim.RecordValue(w.edPriv.Public())
	w.v.OwnKeys = func(_ context.Context, name string) ([]string, error) {
		if name == "ed1._domainkey.example.org" || name == "other._domainkey.example.org" {
			return []string{value}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	msg := testkit.Sign(t, testMessage, w.ed)
	r := w.check(t, trace+strings.Replace(msg, "To: alice@", "To: mallory@", 1), Envelope{})
	if len(r.DKIM) != 1 || r.DKIM[0].Kind != HeaderModified || !strings.Contains(r.DKIM[0].Explanation, "is this relay's own key") {
		t.Errorf("changed header: %+v", r.DKIM)
	}

	// DNS publishes another key at the selector the relay signs with.
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	other := dkim.Key{Domain: "example.org", Selector: "other", Signer: w.edPriv}
	w.dns.Add(record(t, other, stranger.Public()))
	r = w.check(t, trace+testkit.Sign(t, testMessage, other), Envelope{})
	if len(r.DKIM) != 1 || r.DKIM[0].Kind != KeyMismatch || !strings.Contains(r.DKIM[0].Explanation, "is not this relay's key for selector other") {
		t.Errorf("another key in DNS: %+v", r.DKIM)
	}
}
