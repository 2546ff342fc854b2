// Package dnstest runs an in-process DNS server on loopback for tests: it
// answers from records given in zone-file syntax, like an authoritative
// server that also chases CNAMEs within its data, and can be told to fail
// (SERVFAIL or another RCODE), to stay silent, or to truncate UDP answers.
package dnstest

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Query is one question the server received.
type Query struct {
	Name string // lower-case, fully qualified
	Type uint16
	Net  string // "udp" or "tcp"
}

// Server is a DNS server on 127.0.0.1, UDP and TCP on the same free port.
// It is stopped when the test ends.
type Server struct {
	t    testing.TB
	addr string
	udp  *dns.Server
	tcp  *dns.Server

	mu       sync.Mutex
	records  map[string][]dns.RR // by lower-case FQDN
	rcodes   map[string]int
	drop     map[string]bool
	truncate map[string]bool
	secure   []string // zones whose answers carry the AD bit
	queries  []Query
}

// NewServer starts a server and registers its shutdown with t.Cleanup.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		t:        t,
		records:  make(map[string][]dns.RR),
		rcodes:   make(map[string]int),
		drop:     make(map[string]bool),
		truncate: make(map[string]bool),
	}
	ln, pc, err := listenPair()
	if err != nil {
		t.Fatalf("dnstest: %v", err)
	}
	s.addr = ln.Addr().String()
	s.tcp = &dns.Server{Listener: ln, Handler: s}
	s.udp = &dns.Server{PacketConn: pc, Handler: s}
	for _, srv := range []*dns.Server{s.tcp, s.udp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() {
			// ActivateAndServe returns when the server is shut down.
			_ = srv.ActivateAndServe()
		}()
		<-started
	}
	t.Cleanup(s.Close)
	return s
}

// listenPair finds a port free for both TCP and UDP on 127.0.0.1.
func listenPair() (net.Listener, net.PacketConn, error) {
	var lastErr error
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		pc, err := net.ListenPacket("udp", ln.Addr().String())
		if err == nil {
			return ln, pc, nil
		}
		lastErr = err
		ln.Close()
	}
	return nil, nil, fmt.Errorf("no port free for both TCP and UDP: %w", lastErr)
}

// Addr is the server's "127.0.0.1:port".
func (s *Server) Addr() string { return s.addr }

// Close stops the server. It is safe to call more than once.
func (s *Server) Close() {
	_ = s.udp.Shutdown()
	_ = s.tcp.Shutdown()
}

// Add adds records, each one line of zone-file text with a fully qualified
// owner, e.g. "example.org. 300 IN MX 10 mx.example.org.".
func (s *Server) Add(rrs ...string) {
	s.t.Helper()
	for _, text := range rrs {
		rr, err := dns.NewRR(text)
		if err != nil {
			s.t.Fatalf("dnstest: parsing %q: %v", text, err)
		}
		if rr == nil {
			continue
		}
		s.addRR(rr)
	}
}

// AddZone adds the records of a zone-file text. $ORIGIN and $TTL are
// honoured; names without a trailing dot are relative to the root unless
// $ORIGIN says otherwise.
func (s *Server) AddZone(text string) {
	s.t.Helper()
	zp := dns.NewZoneParser(strings.NewReader(text), ".", "dnstest")
	zp.SetDefaultTTL(300)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		s.addRR(rr)
	}
	if err := zp.Err(); err != nil {
		s.t.Fatalf("dnstest: parsing zone: %v", err)
	}
}

func (s *Server) addRR(rr dns.RR) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := canonical(rr.Header().Name)
	s.records[key] = append(s.records[key], rr)
}

// Remove drops the records of type qtype owned by name (dns.TypeANY: all
// of them).
func (s *Server) Remove(name string, qtype uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := canonical(name)
	keep := s.records[key][:0]
	for _, rr := range s.records[key] {
		if qtype != dns.TypeANY && rr.Header().Rrtype != qtype {
			keep = append(keep, rr)
		}
	}
	s.records[key] = keep
}

// SetServfail makes every question about exactly name answer SERVFAIL.
func (s *Server) SetServfail(name string) { s.SetRcode(name, dns.RcodeServerFailure) }

// SetRcode makes every question about exactly name answer with rcode and
// no records (e.g. dns.RcodeRefused).
func (s *Server) SetRcode(name string, rcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rcodes[canonical(name)] = rcode
}

// SetDrop makes the server never answer questions about exactly name.
func (s *Server) SetDrop(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop[canonical(name)] = true
}

// SetTruncate makes UDP answers about exactly name come back empty with
// the TC bit, whatever their size, so clients must retry over TCP. Answers
// too large for the client's UDP buffer are truncated without it.
func (s *Server) SetTruncate(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.truncate[canonical(name)] = true
}

// SetSecure makes answers about zone and the names below it carry the AD
// bit, as a validating resolver's do for a DNSSEC-signed zone (RFC 4035
// section 3.2.3). SetServfail on a name stands for a bogus answer: a
// validating resolver answers SERVFAIL when validation fails.
func (s *Server) SetSecure(zone string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secure = append(s.secure, canonical(zone))
}

// Queries returns the questions received so far, in order.
func (s *Server) Queries() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Query(nil), s.queries...)
}

func canonical(name string) string { return strings.ToLower(dns.Fqdn(name)) }

// ServeDNS implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	network := "udp"
	if _, ok := w.LocalAddr().(*net.TCPAddr); ok {
		network = "tcp"
	}
	resp := new(dns.Msg)
	if len(req.Question) != 1 {
		resp.SetRcode(req, dns.RcodeFormatError)
		_ = w.WriteMsg(resp)
		return
	}
	q := req.Question[0]
	name := canonical(q.Name)

	s.mu.Lock()
	s.queries = append(s.queries, Query{Name: name, Type: q.Qtype, Net: network})
	drop, truncate := s.drop[name], s.truncate[name]
	rcode, failing := s.rcodes[name]
	s.answer(resp, req, name, q.Qtype)
	for _, zone := range s.secure {
		if name == zone || strings.HasSuffix(name, "."+zone) {
			resp.AuthenticatedData = true
		}
	}
	s.mu.Unlock()

	if drop {
		return
	}
	if failing {
		resp.Answer = nil
		resp.Rcode = rcode
	}
	size := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		size = max(int(opt.UDPSize()), dns.MinMsgSize)
		resp.SetEdns0(opt.UDPSize(), false)
	}
	if network == "udp" {
		if truncate {
			resp.Answer = nil
			resp.Truncated = true
		} else {
			resp.Truncate(size)
		}
	}
	_ = w.WriteMsg(resp)
}

// answer fills resp for name/qtype from the records, following CNAMEs held
// by this server. Called with s.mu held.
func (s *Server) answer(resp, req *dns.Msg, name string, qtype uint16) {
	resp.SetReply(req)
	resp.Authoritative = true
	resp.RecursionAvailable = true
	cur := name
	for range 16 {
		rrs := s.records[cur]
		var cname *dns.CNAME
		found := false
		for _, rr := range rrs {
			switch {
			case rr.Header().Rrtype == qtype || qtype == dns.TypeANY:
				resp.Answer = append(resp.Answer, rr)
				found = true
			case rr.Header().Rrtype == dns.TypeCNAME:
				cname = rr.(*dns.CNAME)
			}
		}
		if found {
			return
		}
		if cname != nil {
			resp.Answer = append(resp.Answer, cname)
			cur = canonical(cname.Target)
			continue
		}
		if len(rrs) == 0 && !s.hasDescendant(cur) {
			// RFC 8020: an empty non-terminal exists (NODATA); only a
			// name with nothing at or below it is NXDOMAIN.
			resp.Rcode = dns.RcodeNameError
		}
		return
	}
}

func (s *Server) hasDescendant(name string) bool {
	for owner := range s.records {
		if dns.IsSubDomain(name, owner) && owner != name {
			return true
		}
	}
	return false
}
