// Command benchdns is the DNS server of bench/compare.sh's features run:
// on loopback, UDP and TCP on one port, it answers from the records of a
// zone file (the MX of the bench's recipient domain pointing at the sink)
// and nothing else: a name it has no record of is NXDOMAIN, a type it has
// no record of is an empty answer. With -secure every answer carries the
// AD bit, as a validating resolver's do for a DNSSEC-signed zone (RFC 4035
// section 3.2.3), so that dkimrelay looks up TLSA records (DANE, RFC 7672)
// as it would for a signed destination. It runs until SIGTERM or SIGINT.
//
//	benchdns -listen 127.0.0.1:10553 -zone bench.zone -secure
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/miekg/dns"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:10553", "address to answer on (UDP and TCP)")
	zoneFile := flag.String("zone", "", "zone file of the records to serve, fully qualified names (required)")
	secure := flag.Bool("secure", false, "set the AD bit on every answer (a DNSSEC-validated zone)")
	flag.Parse()
	if *zoneFile == "" {
		fmt.Fprintln(os.Stderr, "benchdns: give the records with -zone FILE")
		os.Exit(2)
	}
	f, err := os.Open(*zoneFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchdns:", err)
		os.Exit(1)
	}
	z := zone{}
	zp := dns.NewZoneParser(f, ".", *zoneFile)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		name := strings.ToLower(rr.Header().Name)
		z[name] = append(z[name], rr)
	}
	f.Close()
	if err := zp.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "benchdns:", err)
		os.Exit(1)
	}
	h := handler{zone: z, secure: *secure}
	errs := make(chan error, 2)
	servers := []*dns.Server{{Addr: *listen, Net: "udp", Handler: h}, {Addr: *listen, Net: "tcp", Handler: h}}
	for _, s := range servers {
		go func() { errs <- s.ListenAndServe() }()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	select {
	case err := <-errs:
		fmt.Fprintf(os.Stderr, "benchdns: %v: stop whatever uses %s or pick another port\n", err, *listen)
		os.Exit(1)
	case <-ctx.Done():
	}
	for _, s := range servers {
		_ = s.Shutdown()
	}
}

// zone is the served records by lower-case owner name.
type zone map[string][]dns.RR

type handler struct {
	zone   zone
	secure bool
}

// ServeDNS answers one question from the zone.
func (h handler) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.AuthenticatedData = h.secure
	if len(req.Question) == 1 {
		q := req.Question[0]
		rrs, known := h.zone[strings.ToLower(q.Name)]
		if !known {
			m.Rcode = dns.RcodeNameError
		}
		for _, rr := range rrs {
			if rr.Header().Rrtype == q.Qtype {
				m.Answer = append(m.Answer, rr)
			}
		}
	}
	_ = w.WriteMsg(m)
}
