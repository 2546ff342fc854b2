package delivery

import (
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"dkimrelay/config"
	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
	"dkimrelay/relay/outcome"
)

// openTo opens a session to mx1.test (127.0.0.2) under req, as delivery
// would, and reports how opening ended and what TLS the session got.
func openTo(t *testing.T, d *Deliverer, port int, req TLSRequirement) (opened, *outcome.Outcome, TLSInfo) {
	t.Helper()
	ctx := context.Background()
	spec := &sessionSpec{
		hop: target{kind: config.ModeMX, host: "mx1.test", ip: net.ParseIP("127.0.0.2"), port: strconv.Itoa(port)},
		tls: req,
	}
	conn, err := d.dial(ctx, spec.hop.ip, spec.hop.port)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(conn, d.cfg.CommandTimeout)
	tx := &txn{d: d, log: d.log}
	o, end := tx.open(ctx, c, spec, req)
	info := c.info
	if end == openOK {
		c.quit()
	} else {
		c.close()
	}
	return end, o, info
}

// TestSessionTLS opens sessions under each TLS requirement to servers
// presenting certificates from a test CA (right name, wrong name,
// expired), a self-signed one, or no STARTTLS at all; TLSA records are
// computed from those certificates.
func TestSessionTLS(t *testing.T) {
	ca := testkit.NewCA(t)
	good := ca.Issue(t, "mx1.test")
	wrongName := ca.Issue(t, "other.test")
	expired := ca.Expired(t, "mx1.test")
	self := testkit.SelfSigned(t, "mx1.test")
	unrelated := ca.Issue(t, "mx1.test") // same name, another key

	opportunistic := TLSRequirement{Level: TLSOpportunistic}
	encrypt := TLSRequirement{Level: TLSEncrypt}
	verify := TLSRequirement{Level: TLSVerifyNames}
	dane := func(records ...*dns.TLSA) TLSRequirement {
		return TLSRequirement{Level: TLSVerifyTLSA, TLSA: records}
	}
	eeSPKI := testkit.TLSA(t, "_25._tcp.mx1.test", 3, 1, 1, good.Leaf)
	taCert := testkit.TLSA(t, "_25._tcp.mx1.test", 2, 0, 1, ca.Cert())
	taSPKI := testkit.TLSA(t, "_25._tcp.mx1.test", 2, 1, 2, ca.Cert())

	tests := []struct {
		name     string
		cert     *tls.Certificate // nil: no STARTTLS
		req      TLSRequirement
		noRoots  bool // the test CA is not in RootCAs
		want     opened
		wantVer  string
		wantBy   string
		wantName string
		reason   string // substring of the failure
	}{
		{"opportunistic, trusted", &good, opportunistic, false, openOK, "TLS1.3", "", "", ""},
		{"opportunistic, self-signed", &self, opportunistic, false, openOK, "TLS1.3", "", "", ""},
		{"opportunistic, no STARTTLS", nil, opportunistic, false, openOK, "", "", "", ""},
		{"encrypt, self-signed", &self, encrypt, false, openOK, "TLS1.3", "", "", ""},
		{"encrypt, no STARTTLS", nil, encrypt, false, openMoveOn, "", "", "", "does not offer STARTTLS; refusing to send mail without TLS"},

		{"verify, right name", &good, verify, false, openOK, "TLS1.3", VerifiedPKIX, "mx1.test", ""},
		{"verify, wrong name", &wrongName, verify, false, openMoveOn, "", "", "", "certificate name mismatch: valid for other.test, not for mx1.test"},
		{"verify, given names", &wrongName, TLSRequirement{Level: TLSVerifyNames, Names: []string{"mx.example", "other.test"}},
			false, openOK, "TLS1.3", VerifiedPKIX, "other.test", ""},
		{"verify, expired", &expired, verify, false, openMoveOn, "", "", "", "certificate expired"},
		{"verify, self-signed", &self, verify, false, openMoveOn, "", "", "", "unknown authority"},
		{"verify, CA not trusted", &good, verify, true, openMoveOn, "", "", "", "unknown authority"},
		{"verify, no STARTTLS", nil, verify, false, openMoveOn, "", "", "", "does not offer STARTTLS"},

		{"DANE-EE SPKI SHA-256", &good, dane(eeSPKI), true, openOK, "TLS1.3", VerifiedDANEEE, "", ""},
		{"DANE-EE full certificate, self-signed", &self, dane(testkit.TLSA(t, "_25._tcp.mx1.test", 3, 0, 0, self.Leaf)), true, openOK, "TLS1.3", VerifiedDANEEE, "", ""},
		// RFC 7672 section 3.1.1: names and dates do not matter.
		{"DANE-EE SHA-512, expired and wrong name", &expired, dane(testkit.TLSA(t, "_25._tcp.mx1.test", 3, 1, 2, expired.Leaf)), true, openOK, "TLS1.3", VerifiedDANEEE, "", ""},
		{"DANE-EE among others", &good, dane(testkit.TLSA(t, "_25._tcp.mx1.test", 3, 1, 1, unrelated.Leaf), eeSPKI), true, openOK, "TLS1.3", VerifiedDANEEE, "", ""},
		{"DANE-EE mismatch", &good, dane(testkit.TLSA(t, "_25._tcp.mx1.test", 3, 1, 1, unrelated.Leaf)), true, openMoveOn, "", "", "", "TLSA mismatch"},
		{"DANE-TA certificate", &good, dane(taCert), true, openOK, "TLS1.3", VerifiedDANETA, "mx1.test", ""},
		{"DANE-TA SPKI", &good, dane(taSPKI), true, openOK, "TLS1.3", VerifiedDANETA, "mx1.test", ""},
		{"DANE-TA, wrong name", &wrongName, dane(taCert), true, openMoveOn, "", "", "", "TLSA mismatch: certificate name mismatch"},
		{"DANE-TA, expired", &expired, dane(taCert), true, openMoveOn, "", "", "", "certificate expired"},
		{"DANE-TA, self-signed", &self, dane(taCert), true, openMoveOn, "", "", "", "no TLSA record matches"},
		// RFC 7672 section 3.1.3: PKIX-TA(0) and PKIX-EE(1) are unusable.
		{"only PKIX usages", &good, dane(testkit.TLSA(t, "_25._tcp.mx1.test", 1, 1, 1, good.Leaf), testkit.TLSA(t, "_25._tcp.mx1.test", 0, 0, 1, ca.Cert())), false, openMoveOn, "", "", "", "no usable TLSA record"},
		{"DANE, no STARTTLS", nil, dane(eeSPKI), true, openMoveOn, "", "", "", "does not offer STARTTLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			serveSink(t, e.ln2, withTLSIf(tt.cert))
			d := e.deliverer(t, func(c *Config) {
				if !tt.noRoots {
					c.RootCAs = ca.Pool()
				}
			})
			end, o, info := openTo(t, d, e.port, tt.req)
			if end != tt.want {
				t.Fatalf("open ended %d (%+v), want %d", end, o, tt.want)
			}
			if end == openOK {
				if info.Version != tt.wantVer || info.By != tt.wantBy || info.Name != tt.wantName || info.Verified != (tt.wantBy != "") {
					t.Errorf("got TLS %+v, want version %q by %q name %q", info, tt.wantVer, tt.wantBy, tt.wantName)
				}
				return
			}
			if o.Status != outcome.Transient || o.MX != "mx1.test" || !strings.Contains(o.Reply, tt.reason) {
				t.Errorf("got %+v, want Transient at mx1.test with reason ~%q", o, tt.reason)
			}
			if o.Enhanced != "4.7.0" {
				t.Errorf("enhanced status %q, want 4.7.0 (security failure)", o.Enhanced)
			}
		})
	}
}

// TestSessionTLSMinimum: a server that cannot do TLS 1.2 gets plaintext
// when TLS is opportunistic (the retry) and nothing when it is required.
func TestSessionTLSMinimum(t *testing.T) {
	ca := testkit.NewCA(t)
	good := ca.Issue(t, "mx1.test")
	for _, tt := range []struct {
		req    TLSRequirement
		want   opened
		reason string
	}{
		{TLSRequirement{Level: TLSOpportunistic}, openPlaintext, ""},
		{TLSRequirement{Level: TLSVerifyNames}, openMoveOn, "TLS handshake with mx1.test[127.0.0.2] failed"},
	} {
		t.Run(tt.req.Level.String(), func(t *testing.T) {
			e := newEnv(t)
			serveSink(t, e.ln2, func(c *smtpsink.Config) {
				c.TLS = &tls.Config{Certificates: []tls.Certificate{good}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
			})
			d := e.deliverer(t, func(c *Config) { c.RootCAs = ca.Pool() })
			end, o, _ := openTo(t, d, e.port, tt.req)
			if end != tt.want || (o != nil && !strings.Contains(o.Reply, tt.reason)) {
				t.Errorf("open ended %d (%+v), want %d with reason ~%q", end, o, tt.want, tt.reason)
			}
		})
	}
}

// TestSessionImplicitTLS: TLS from the first byte (RFC 8314), verified.
func TestSessionImplicitTLS(t *testing.T) {
	ca := testkit.NewCA(t)
	good := ca.Issue(t, "mx1.test")
	req := TLSRequirement{Level: TLSVerifyNames, Implicit: true}

	e := newEnv(t)
	serveSink(t, tls.NewListener(e.ln2, &tls.Config{Certificates: []tls.Certificate{good}}))
	d := e.deliverer(t, func(c *Config) { c.RootCAs = ca.Pool() })
	end, o, info := openTo(t, d, e.port, req)
	if end != openOK || info != (TLSInfo{Version: "TLS1.3", Verified: true, By: VerifiedPKIX, Name: "mx1.test"}) {
		t.Errorf("implicit TLS: ended %d (%+v) with %+v", end, o, info)
	}

	// A plaintext server: the handshake fails, nothing is sent in clear.
	e = newEnv(t)
	serveSink(t, e.ln2)
	d = e.deliverer(t, func(c *Config) {
		c.RootCAs = ca.Pool()
		c.CommandTimeout = time.Second
	})
	end, o, _ = openTo(t, d, e.port, req)
	if end != openMoveOn || !strings.Contains(o.Reply, "TLS handshake with mx1.test[127.0.0.2] failed") {
		t.Errorf("implicit TLS to a plaintext server: ended %d (%+v)", end, o)
	}
}

// TestSessionPoolKeepsRequirements: a session opened opportunistically is
// not reused for a transaction that requires a verified certificate, and a
// verified one delivers.
func TestSessionPoolKeepsRequirements(t *testing.T) {
	ca := testkit.NewCA(t)
	e := newEnv(t)
	e.dns.Add("example.net. MX 10 mx1.test.")
	ln := &countingListener{Listener: e.ln2}
	s := serveSink(t, ln, withTLS(ca.Issue(t, "mx1.test")))
	d := e.deliverer(t, func(c *Config) { c.RootCAs = ca.Pool() })
	defer d.Close()
	rcpts := []string{"alice@example.net"}
	delivered := want{status: outcome.Delivered, code: 250, mx: "mx1.test", tls: "TLS1.3", reply: "250"}
	check(t, d.Deliver(context.Background(), message(body, rcpts...)), rcpts, delivered)

	spec := &sessionSpec{
		hop: target{kind: config.ModeMX, host: "mx1.test", ip: net.ParseIP("127.0.0.2"), port: strconv.Itoa(e.port)},
		tls: TLSRequirement{Level: TLSVerifyNames},
	}
	for range 2 {
		tx := &txn{d: d, log: d.log, msg: message(body, rcpts...), rcpts: rcpts}
		got, o := tx.attempt(context.Background(), spec)
		if o != nil {
			t.Fatalf("verified attempt failed: %+v", o)
		}
		check(t, got, rcpts, delivered)
	}
	if n := ln.count(); n != 2 {
		t.Errorf("%d connections, want 2: one opportunistic, one verified used twice", n)
	}
	if n := len(s.Messages()); n != 3 {
		t.Errorf("sink has %d messages, want 3", n)
	}
}

func TestUsableTLSA(t *testing.T) {
	hex64 := strings.Repeat("ab", 32)
	hex128 := strings.Repeat("cd", 64)
	tests := []struct {
		usage, selector, mtype uint8
		data                   string
		usable                 bool
	}{
		{3, 1, 1, hex64, true},
		{3, 0, 2, hex128, true},
		{2, 0, 0, "3082", true},
		{2, 1, 1, hex64, true},
		{1, 1, 1, hex64, false}, // PKIX-EE
		{0, 0, 1, hex64, false}, // PKIX-TA
		{3, 2, 1, hex64, false}, // unknown selector
		{3, 1, 3, hex64, false}, // unknown matching type
		{3, 1, 1, hex128, false},
		{3, 1, 2, hex64, false},
	}
	for _, tt := range tests {
		r := &dns.TLSA{Usage: tt.usage, Selector: tt.selector, MatchingType: tt.mtype, Certificate: tt.data}
		if got := len(UsableTLSA([]*dns.TLSA{r})) == 1; got != tt.usable {
			t.Errorf("TLSA %d %d %d (%d hex digits): usable %v, want %v", tt.usage, tt.selector, tt.mtype, len(tt.data), got, tt.usable)
		}
	}
}
