package authcheck

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dmarc"

	"dkimrelay/resolver"
	"dkimrelay/resolver/dnstest"
)

func TestOrgDomain(t *testing.T) {
	for _, c := range []struct{ domain, want string }{
		{"example.org", "example.org"},
		{"mail.example.org", "example.org"},
		{"a.b.c.example.org", "example.org"},
		{"Example.ORG.", "example.org"},
		{"example.co.uk", "example.co.uk"},
		{"news.example.co.uk", "example.co.uk"},
		{"co.uk", "co.uk"}, // a public suffix is its own
		{"example.com.au", "example.com.au"},
		{"a.example.com.au", "example.com.au"},
		{"foo.city.kawasaki.jp", "city.kawasaki.jp"}, // an exception rule
		{"example.test", "example.test"},             // unlisted TLD: the "*" rule
		{"x.example.test", "example.test"},
		{"alice.github.io", "alice.github.io"}, // private section of the list
	} {
		if got := OrgDomain(c.domain); got != c.want {
			t.Errorf("OrgDomain(%q) = %q, want %q", c.domain, got, c.want)
		}
	}
}

// TestAligned is RFC 7489 section 3.1's table: strict needs identical
// domains, relaxed the same organizational domain.
func TestAligned(t *testing.T) {
	for _, c := range []struct {
		a, b    string
		relaxed bool
		strict  bool
	}{
		{"example.org", "example.org", true, true},
		{"EXAMPLE.org", "example.org.", true, true},
		{"mail.example.org", "example.org", true, false},
		{"example.org", "news.example.org", true, false},
		{"a.example.org", "b.example.org", true, false},
		{"example.org", "example.net", false, false},
		{"example.org", "notexample.org", false, false},
		{"example.org", "org", false, false},
		{"example.co.uk", "example.co.uk", true, true},
		{"news.example.co.uk", "example.co.uk", true, false},
		{"bounce.news.example.co.uk", "mail.example.co.uk", true, false},
		// Two organizations under one multi-label public suffix.
		{"example.co.uk", "other.co.uk", false, false},
		{"a.example.co.uk", "a.other.co.uk", false, false},
		// A public suffix aligns only with itself.
		{"co.uk", "example.co.uk", false, false},
		{"a.example.com.au", "example.com.au", true, false},
		{"alice.github.io", "bob.github.io", false, false},
		{"www.alice.github.io", "alice.github.io", true, false},
	} {
		if got := Aligned(c.a, c.b, dmarc.AlignmentRelaxed); got != c.relaxed {
			t.Errorf("relaxed Aligned(%q, %q) = %v, want %v", c.a, c.b, got, c.relaxed)
		}
		if got := Aligned(c.a, c.b, dmarc.AlignmentStrict); got != c.strict {
			t.Errorf("strict Aligned(%q, %q) = %v, want %v", c.a, c.b, got, c.strict)
		}
	}
}

const dmarcZone = `
_dmarc.example.org.      TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.org"
_dmarc.strict.test.      TXT "v=DMARC1; p=quarantine; adkim=s; aspf=s"
_dmarc.example.co.uk.    TXT "v=DMARC1; p=none; aspf=s"
_dmarc.own.example.co.uk. TXT "v=DMARC1; p=reject"
_dmarc.broken.test.      TXT "v=DMARC1; p=maybe"
_dmarc.other.test.       TXT "v=spf1 -all"
nodmarc.test.            A   192.0.2.1
`

func dmarcServer(t *testing.T) (*dnstest.Server, *resolver.Resolver) {
	t.Helper()
	srv := dnstest.NewServer(t)
	srv.AddZone(dmarcZone)
	srv.SetServfail("_dmarc.servfail.test")
	res, err := resolver.New(resolver.Options{Servers: []string{srv.Addr()}, Timeout: 2 * time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return srv, res
}

func TestLookupDMARC(t *testing.T) {
	_, res := dmarcServer(t)
	for _, c := range []struct {
		domain  string
		at      string
		p       dmarc.Policy
		adkim   dmarc.AlignmentMode
		wantErr error
	}{
		{domain: "example.org", at: "_dmarc.example.org", p: dmarc.PolicyReject, adkim: "r"},
		{domain: "Mail.Example.ORG", at: "_dmarc.example.org", p: dmarc.PolicyReject, adkim: "r"},
		{domain: "strict.test", at: "_dmarc.strict.test", p: dmarc.PolicyQuarantine, adkim: "s"},
		{domain: "a.b.strict.test", at: "_dmarc.strict.test", p: dmarc.PolicyQuarantine, adkim: "s"},
		{domain: "news.example.co.uk", at: "_dmarc.example.co.uk", p: dmarc.PolicyNone, adkim: "r"},
		// The record at the domain itself wins over the organization's.
		{domain: "own.example.co.uk", at: "_dmarc.own.example.co.uk", p: dmarc.PolicyReject, adkim: "r"},
		{domain: "nodmarc.test", wantErr: ErrNoDMARC},
		{domain: "other.test", wantErr: ErrNoDMARC},
		{domain: "broken.test", wantErr: ErrDMARCInvalid},
		{domain: "servfail.test", wantErr: ErrDMARCTemporary},
	} {
		p, err := LookupDMARC(context.Background(), res.LookupTXT, c.domain)
		if c.wantErr != nil {
			if !errors.Is(err, c.wantErr) {
				t.Errorf("%s: error %v, want %v", c.domain, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.domain, err)
			continue
		}
		if p.At != c.at || p.Record.Policy != c.p || p.Record.DKIMAlignment != c.adkim {
			t.Errorf("%s: found at %s p=%s adkim=%s, want %s p=%s adkim=%s", c.domain, p.At, p.Record.Policy, p.Record.DKIMAlignment, c.at, c.p, c.adkim)
		}
	}
}

func TestCheckAlignment(t *testing.T) {
	_, res := dmarcServer(t)
	policy := func(domain string) *DMARCPolicy {
		p, err := LookupDMARC(context.Background(), res.LookupTXT, domain)
		if err != nil && !errors.Is(err, ErrNoDMARC) {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		from, mailFrom string
		dkim           []string
		dkimOK, spfOK  bool
		problem        string // in Problems when not aligned
	}{
		{"example.org", "example.org", []string{"example.org"}, true, true, ""},
		{"example.org", "bounces.example.org", []string{"example.org"}, true, true, ""},
		{"news.example.org", "example.org", []string{"news.example.org"}, true, true, ""},
		{"example.org", "example.net", []string{"example.org"}, true, false,
			"the MAIL FROM domain example.net does not align with the From: domain example.org under the DMARC record at _dmarc.example.org (aspf=r): relaxed alignment needs the same organizational domain, so use a MAIL FROM address in example.org or a domain under example.org"},
		{"example.org", "example.org", []string{"example.net"}, false, true, "the DKIM signature would be made by d=example.net"},
		{"strict.test", "strict.test", []string{"strict.test"}, true, true, ""},
		{"strict.test", "bounce.strict.test", []string{"strict.test"}, true, false,
			"(aspf=s): strict alignment needs the same domain, so use a MAIL FROM address in strict.test itself"},
		{"mail.strict.test", "mail.strict.test", []string{"strict.test"}, false, true, "(adkim=s): strict alignment"},
		// aspf=s at the organizational domain applies to its subdomains.
		{"news.example.co.uk", "example.co.uk", []string{"news.example.co.uk"}, true, false, "(aspf=s)"},
		{"example.co.uk", "other.co.uk", []string{"example.co.uk"}, true, false, "other.co.uk does not align"},
		// No record: relaxed, the default.
		{"nodmarc.test", "x.nodmarc.test", []string{"nodmarc.test"}, true, true, ""},
		{"nodmarc.test", "nodmarc.example", []string{"nodmarc.test"}, true, false, "under DMARC's default (aspf=r)"},
	} {
		a := CheckAlignment(policy(c.from), c.from, c.mailFrom, c.dkim)
		if a.DKIMAligned != c.dkimOK || a.SPFAligned != c.spfOK {
			t.Errorf("From %s, MAIL FROM %s, d=%v: dkim aligned %v spf aligned %v, want %v %v", c.from, c.mailFrom, c.dkim, a.DKIMAligned, a.SPFAligned, c.dkimOK, c.spfOK)
		}
		problems := strings.Join(a.Problems(), "\n")
		if (c.problem == "") != (problems == "") || !strings.Contains(problems, c.problem) {
			t.Errorf("From %s, MAIL FROM %s: problems %q, want %q", c.from, c.mailFrom, problems, c.problem)
		}
	}
}

func TestDMARCCache(t *testing.T) {
	srv, res := dmarcServer(t)
	clock := &fakeClock{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	d := NewDMARC(res, clock.now)
	lookups := func() int { return countQueries(srv, "_dmarc.example.org.") }
	for range 3 {
		if _, err := d.Lookup(context.Background(), "example.org"); err != nil {
			t.Fatal(err)
		}
	}
	if n := lookups(); n != 1 {
		t.Errorf("%d lookups for 3 uses within the TTL, want 1", n)
	}
	clock.advance(301 * time.Second) // dnstest's default TTL is 300s
	if _, err := d.Lookup(context.Background(), "example.org"); err != nil {
		t.Fatal(err)
	}
	if n := lookups(); n != 2 {
		t.Errorf("%d lookups after the TTL passed, want 2", n)
	}
	for range 2 {
		if _, err := d.Lookup(context.Background(), "servfail.test"); !errors.Is(err, ErrDMARCTemporary) {
			t.Fatalf("servfail.test: %v", err)
		}
	}
	if n := countQueries(srv, "_dmarc.servfail.test."); n != 2 {
		t.Errorf("%d lookups of a failing name, want 2: temporary failures are not kept", n)
	}
}
