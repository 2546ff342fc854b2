package integration

import (
	"fmt"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"dkimrelay/resolver/dnstest"
)

// world is the DNS a test's relay sees: one dnstest server on 127.0.0.1
// holding the zones below. Each test builds its own, so tests run in
// parallel without sharing state.
//
//	example.org   the sending domain; its MX (for DSNs) is hostB
//	example.net   MX 10 mx1 (hostA), MX 20 mx2 (hostB)
//	example.com   MX 10 mx.example.com (hostB)
//	nullmx.example  a null MX (RFC 7505): accepts no mail
type world struct {
	dns *dnstest.Server
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{dns: dnstest.NewServer(t)}
	w.dns.Add(
		"example.org. 300 IN MX 10 mx.example.org.",
		"mx.example.org. 300 IN A "+hostB,
		"example.net. 300 IN MX 10 mx1.example.net.",
		"example.net. 300 IN MX 20 mx2.example.net.",
		"mx1.example.net. 300 IN A "+hostA,
		"mx2.example.net. 300 IN A "+hostB,
		"example.com. 300 IN MX 10 mx.example.com.",
		"mx.example.com. 300 IN A "+hostB,
		"nullmx.example. 300 IN MX 0 .",
	)
	return w
}

// addr is the "127.0.0.1:port" to put in the relay's dns.servers.
func (w *world) addr() string { return w.dns.Addr() }

// publishDKIM publishes a key record (the bare TXT value printed by
// `keys dns --value`) at selector._domainkey.domain. Quoting keeps the ";"
// from reading as a zone-file comment; miekg/dns splits the string into
// 255-byte character-strings (RFC 7208 section 3.3 style) on parsing.
func (w *world) publishDKIM(t testing.TB, domain, selector, value string) {
	t.Helper()
	value = strings.TrimSpace(value)
	if value == "" || strings.ContainsAny(value, "\"\\\n") {
		t.Fatalf("dns: unusable DKIM record value %q for %s._domainkey.%s", value, selector, domain)
	}
	w.dns.Add(fmt.Sprintf("%s._domainkey.%s. 300 IN TXT %q", selector, domain, value))
}

// lookupTXT asks the test DNS server, as a receiving verifier would, and
// returns each TXT record with its character-strings joined (RFC 6376
// section 3.6.2.2).
func (w *world) lookupTXT(name string) ([]string, error) {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), dns.TypeTXT)
	var resp *dns.Msg
	var err error
	for _, network := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: network}
		resp, _, err = c.Exchange(q, w.addr())
		if err != nil {
			return nil, fmt.Errorf("TXT %s over %s: %w", name, network, err)
		}
		if !resp.Truncated {
			break
		}
	}
	if resp.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("TXT %s: %s", name, dns.RcodeToString[resp.Rcode])
	}
	var out []string
	for _, rr := range resp.Answer {
		if txt, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(txt.Txt, ""))
		}
	}
	return out, nil
}
