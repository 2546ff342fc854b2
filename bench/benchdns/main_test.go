package main

import (
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestServe answers from a zone over UDP on loopback: the MX, NODATA for a
// type the name has no record of, NXDOMAIN for an unknown name, and the AD
// bit only with secure.
func TestServe(t *testing.T) {
	z := zone{}
	zp := dns.NewZoneParser(strings.NewReader("example.net. 300 IN MX 10 mx.example.net.\nmx.example.net. 300 IN A 127.0.0.1\n"), ".", "test")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		z[rr.Header().Name] = append(z[rr.Header().Name], rr)
	}
	for _, secure := range []bool{false, true} {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &dns.Server{PacketConn: pc, Handler: handler{zone: z, secure: secure}}
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
		tests := []struct {
			name    string
			qtype   uint16
			rcode   int
			answers int
		}{
			{"example.net.", dns.TypeMX, dns.RcodeSuccess, 1},
			{"MX.example.net.", dns.TypeA, dns.RcodeSuccess, 1},
			{"_25._tcp.mx.example.net.", dns.TypeTLSA, dns.RcodeNameError, 0},
			{"example.net.", dns.TypeTXT, dns.RcodeSuccess, 0},
		}
		for _, tt := range tests {
			m := new(dns.Msg)
			m.SetQuestion(tt.name, tt.qtype)
			r, err := dns.Exchange(m, pc.LocalAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			if r.Rcode != tt.rcode || len(r.Answer) != tt.answers || r.AuthenticatedData != secure {
				t.Errorf("secure=%t %s %s: rcode %d, %d answers, AD %t; want %d, %d, %t", secure, tt.name,
					dns.TypeToString[tt.qtype], r.Rcode, len(r.Answer), r.AuthenticatedData, tt.rcode, tt.answers, secure)
			}
		}
		_ = srv.Shutdown()
	}
}
