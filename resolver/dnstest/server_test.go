package dnstest

import (
	"fmt"
	"testing"

	"github.com/miekg/dns"
)

func ask(t *testing.T, s *Server, network, name string, qtype uint16, edns bool) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	if edns {
		q.SetEdns0(1232, false)
	}
	c := &dns.Client{Net: network}
	resp, _, err := c.Exchange(q, s.Addr())
	if err != nil {
		t.Fatalf("%s %s over %s: %v", name, dns.TypeToString[qtype], network, err)
	}
	return resp
}

func TestServer(t *testing.T) {
	s := NewServer(t)
	s.AddZone(`
$ORIGIN example.org.
@      MX 10 mx
mx     A 192.0.2.1
alias  CNAME mx
a.b    TXT "deep"
`)
	s.Add("other.test. 60 IN TXT \"x\"")
	s.SetRcode("refused.example.org", dns.RcodeRefused)

	tests := []struct {
		name    string
		qtype   uint16
		rcode   int
		answers int
	}{
		{"example.org.", dns.TypeMX, dns.RcodeSuccess, 1},
		{"MX.example.org.", dns.TypeA, dns.RcodeSuccess, 1},
		{"alias.example.org.", dns.TypeA, dns.RcodeSuccess, 2}, // CNAME + A
		{"mx.example.org.", dns.TypeTXT, dns.RcodeSuccess, 0},  // NODATA
		{"b.example.org.", dns.TypeTXT, dns.RcodeSuccess, 0},   // empty non-terminal
		{"nope.example.org.", dns.TypeA, dns.RcodeNameError, 0},
		{"other.test.", dns.TypeTXT, dns.RcodeSuccess, 1},
		{"refused.example.org.", dns.TypeA, dns.RcodeRefused, 0},
	}
	for _, tt := range tests {
		for _, network := range []string{"udp", "tcp"} {
			resp := ask(t, s, network, tt.name, tt.qtype, false)
			if resp.Rcode != tt.rcode || len(resp.Answer) != tt.answers {
				t.Errorf("%s %s/%s: rcode %s, %d answers; want %s, %d", network, tt.name,
					dns.TypeToString[tt.qtype], dns.RcodeToString[resp.Rcode], len(resp.Answer),
					dns.RcodeToString[tt.rcode], tt.answers)
			}
		}
	}
	if got, want := len(s.Queries()), 2*len(tests); got != want {
		t.Errorf("%d queries recorded, want %d", got, want)
	}
}

func TestServerTruncates(t *testing.T) {
	s := NewServer(t)
	for i := range 12 {
		s.Add(fmt.Sprintf(`big.test. TXT "%02d %060d"`, i, i))
	}
	// 12 records of ~80 bytes: over 512 bytes (plain DNS), under 1232 (EDNS).
	if r := ask(t, s, "udp", "big.test.", dns.TypeTXT, false); !r.Truncated {
		t.Error("UDP answer over 512 bytes without EDNS is not truncated")
	}
	if r := ask(t, s, "udp", "big.test.", dns.TypeTXT, true); r.Truncated || len(r.Answer) != 12 {
		t.Errorf("EDNS answer: truncated=%v, %d records", r.Truncated, len(r.Answer))
	}
	if r := ask(t, s, "tcp", "big.test.", dns.TypeTXT, false); r.Truncated || len(r.Answer) != 12 {
		t.Errorf("TCP answer: truncated=%v, %d records", r.Truncated, len(r.Answer))
	}
	s.SetTruncate("big.test")
	if r := ask(t, s, "udp", "big.test.", dns.TypeTXT, true); !r.Truncated || len(r.Answer) != 0 {
		t.Errorf("SetTruncate: truncated=%v, %d records", r.Truncated, len(r.Answer))
	}
}
