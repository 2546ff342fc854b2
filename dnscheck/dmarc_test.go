package dnscheck

import (
	"context"
	"strings"
	"testing"
	"time"

	"dkimrelay/resolver"
	"dkimrelay/resolver/dnstest"
)

// A subdomain without its own record is governed by its organizational
// domain's (RFC 7489 section 6.6.3), with sp= when given.
func TestDMARCOfSubdomain(t *testing.T) {
	srv := dnstest.NewServer(t)
	srv.AddZone(`
_dmarc.example.co.uk. TXT "v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.co.uk"
_dmarc.own.example.co.uk. TXT "v=DMARC1; p=none; rua=mailto:d@example.co.uk"
`)
	res, err := resolver.New(resolver.Options{Servers: []string{srv.Addr()}, Timeout: 2 * time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		domain string
		status Status
		want   string
	}{
		{"news.example.co.uk", Pass, "_dmarc.example.co.uk publishes \"v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.co.uk\": policy quarantine for news.example.co.uk as a subdomain of example.co.uk"},
		{"example.co.uk", Pass, "policy reject, DKIM alignment relaxed"},
		{"own.example.co.uk", Pass, "_dmarc.own.example.co.uk publishes"},
		{"other.co.uk", Fail, "no DMARC record at _dmarc.other.co.uk:"},
		{"a.other.co.uk", Fail, "no DMARC record at _dmarc.a.other.co.uk nor at _dmarc.other.co.uk"},
	} {
		r := &Report{}
		checkDMARC(context.Background(), r, Options{Domain: c.domain, Resolver: res})
		if len(r.Results) != 1 || r.Results[0].Status != c.status || !strings.Contains(r.Results[0].Message, c.want) {
			t.Errorf("%s: %+v, want %s with %q", c.domain, r.Results, c.status, c.want)
		}
	}
}
