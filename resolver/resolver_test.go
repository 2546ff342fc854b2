package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"dkimrelay/config"
	"dkimrelay/resolver"
	"dkimrelay/resolver/dnstest"
)

const zone = `
$ORIGIN example.org.
@            IN MX  10 mx1.example.org.
@            IN MX  20 mx2.example.org.
@            IN TXT "v=spf1 ip4:192.0.2.1 -all"
mx1          IN A    192.0.2.10
mx1          IN AAAA 2001:db8::10
mx2          IN A    192.0.2.20
v4only       IN A    192.0.2.30
v6only       IN AAAA 2001:db8::30
www          IN CNAME alias.example.org.
alias        IN CNAME mx1.example.org.
loop1        IN CNAME loop2.example.org.
loop2        IN CNAME loop1.example.org.
dangling     IN CNAME nowhere.example.org.
split        IN TXT "v=DKIM1; k=rsa; p=AAAA" "BBBB" "CCCC"
multi        IN TXT "first"
multi        IN TXT "second"
x.y.deep     IN A 192.0.2.40
nullmx.example.org. IN MX 0 .
10.2.0.192.in-addr.arpa. IN PTR mx1.example.org.
`

func newResolver(t *testing.T, srv *dnstest.Server, opts resolver.Options) *resolver.Resolver {
	t.Helper()
	if opts.Servers == nil {
		opts.Servers = []string{srv.Addr()}
	}
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Second
	}
	r, err := resolver.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func setup(t *testing.T) (*dnstest.Server, *resolver.Resolver) {
	srv := dnstest.NewServer(t)
	srv.AddZone(zone)
	return srv, newResolver(t, srv, resolver.Options{})
}

// errKind classifies an error the way callers do.
func errKind(err error) string {
	switch {
	case err == nil:
		return "ok"
	case resolver.IsNXDomain(err):
		return "nxdomain"
	case errors.Is(err, resolver.ErrNoData):
		if !resolver.IsNotFound(err) {
			return "nodata-without-notfound"
		}
		return "nodata"
	case resolver.IsTemporary(err):
		return "temporary"
	default:
		return "other: " + err.Error()
	}
}

func TestLookupTXT(t *testing.T) {
	_, r := setup(t)
	tests := []struct {
		name string
		want []string
		kind string
	}{
		{"example.org", []string{"v=spf1 ip4:192.0.2.1 -all"}, "ok"},
		{"example.org.", []string{"v=spf1 ip4:192.0.2.1 -all"}, "ok"},
		{"EXAMPLE.ORG", []string{"v=spf1 ip4:192.0.2.1 -all"}, "ok"},
		{"split.example.org", []string{"v=DKIM1; k=rsa; p=AAAABBBBCCCC"}, "ok"},
		{"multi.example.org", []string{"first", "second"}, "ok"},
		{"mx1.example.org", nil, "nodata"},
		{"deep.example.org", nil, "nodata"}, // empty non-terminal
		{"nope.example.org", nil, "nxdomain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.LookupTXT(context.Background(), tt.name)
			if k := errKind(err); k != tt.kind {
				t.Fatalf("error kind %q (%v), want %q", k, err, tt.kind)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if err != nil {
				var de *net.DNSError
				if !errors.As(err, &de) || de.Name != tt.name {
					t.Errorf("error %#v does not name %q", err, tt.name)
				}
			}
		})
	}
}

func TestLookupIP(t *testing.T) {
	_, r := setup(t)
	tests := []struct {
		network, host string
		want          []string
		kind          string
	}{
		{"ip", "mx1.example.org", []string{"2001:db8::10", "192.0.2.10"}, "ok"},
		{"ip4", "mx1.example.org", []string{"192.0.2.10"}, "ok"},
		{"ip6", "mx1.example.org", []string{"2001:db8::10"}, "ok"},
		{"ip", "v4only.example.org", []string{"192.0.2.30"}, "ok"},
		{"ip", "v6only.example.org", []string{"2001:db8::30"}, "ok"},
		{"ip6", "v4only.example.org", nil, "nodata"},
		{"ip", "www.example.org", []string{"2001:db8::10", "192.0.2.10"}, "ok"}, // CNAME chain
		{"ip", "x.y.deep.example.org", []string{"192.0.2.40"}, "ok"},
		{"ip", "example.org", nil, "nodata"},
		{"ip", "nope.example.org", nil, "nxdomain"},
		{"ip", "dangling.example.org", nil, "nxdomain"},
		{"ip", "192.0.2.99", []string{"192.0.2.99"}, "ok"},
		{"ip", "2001:db8::99", []string{"2001:db8::99"}, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.network+"/"+tt.host, func(t *testing.T) {
			ips, err := r.LookupIP(context.Background(), tt.network, tt.host)
			if k := errKind(err); k != tt.kind {
				t.Fatalf("error kind %q (%v), want %q", k, err, tt.kind)
			}
			var got []string
			for _, ip := range ips {
				got = append(got, ip.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLookupIPAddrAndHost(t *testing.T) {
	_, r := setup(t)
	addrs, err := r.LookupIPAddr(context.Background(), "mx2.example.org")
	if err != nil || len(addrs) != 1 || addrs[0].IP.String() != "192.0.2.20" {
		t.Errorf("LookupIPAddr = %v, %v", addrs, err)
	}
	hosts, err := r.LookupHost(context.Background(), "mx1.example.org")
	if err != nil || !slices.Equal(hosts, []string{"2001:db8::10", "192.0.2.10"}) {
		t.Errorf("LookupHost = %v, %v", hosts, err)
	}
}

func TestCNAMELoop(t *testing.T) {
	_, r := setup(t)
	_, err := r.LookupTXT(context.Background(), "loop1.example.org")
	if err == nil || resolver.IsTemporary(err) || resolver.IsNotFound(err) {
		t.Fatalf("CNAME loop: got %v, want a permanent error that is not not-found", err)
	}
}

func TestLookupMX(t *testing.T) {
	srv, r := setup(t)
	mxs, err := r.LookupMX(context.Background(), "example.org")
	if err != nil {
		t.Fatal(err)
	}
	if len(mxs) != 2 || mxs[0].Host != "mx1.example.org." || mxs[0].Pref != 10 ||
		mxs[1].Host != "mx2.example.org." || mxs[1].Pref != 20 {
		t.Errorf("got %s", fmtMX(mxs))
	}

	null, err := r.LookupMX(context.Background(), "nullmx.example.org")
	if err != nil || len(null) != 1 || null[0].Host != "." || null[0].Pref != 0 {
		t.Errorf("null MX: got %s, %v", fmtMX(null), err)
	}

	if _, err := r.LookupMX(context.Background(), "mx1.example.org"); errKind(err) != "nodata" {
		t.Errorf("MX of a host with only A: %v, want NODATA", err)
	}
	if _, err := r.LookupMX(context.Background(), "nope.example.org"); errKind(err) != "nxdomain" {
		t.Errorf("MX of a missing name: %v, want NXDOMAIN", err)
	}

	// Equal preferences come back in both orders over enough lookups, and
	// preference order always holds.
	srv.Add("shuffle.test. MX 5 a.shuffle.test.", "shuffle.test. MX 5 b.shuffle.test.",
		"shuffle.test. MX 1 first.shuffle.test.", "shuffle.test. MX 9 last.shuffle.test.")
	seen := map[string]bool{}
	for range 64 {
		mxs, err := r.LookupMX(context.Background(), "shuffle.test")
		if err != nil {
			t.Fatal(err)
		}
		if len(mxs) != 4 || mxs[0].Host != "first.shuffle.test." || mxs[3].Host != "last.shuffle.test." {
			t.Fatalf("order broken: %s", fmtMX(mxs))
		}
		seen[mxs[1].Host] = true
	}
	if len(seen) != 2 {
		t.Errorf("equal-preference MX never shuffled: saw only %v", seen)
	}
}

func fmtMX(mxs []*net.MX) string {
	var parts []string
	for _, mx := range mxs {
		parts = append(parts, fmt.Sprintf("%d %s", mx.Pref, mx.Host))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func TestLookupAddr(t *testing.T) {
	_, r := setup(t)
	names, err := r.LookupAddr(context.Background(), "192.0.2.10")
	if err != nil || !slices.Equal(names, []string{"mx1.example.org."}) {
		t.Errorf("LookupAddr = %v, %v", names, err)
	}
	if _, err := r.LookupAddr(context.Background(), "192.0.2.11"); errKind(err) != "nxdomain" {
		t.Errorf("missing PTR: %v, want NXDOMAIN", err)
	}
	if _, err := r.LookupAddr(context.Background(), "not-an-ip"); err == nil {
		t.Error("LookupAddr of a non-address: no error")
	}
}

func TestFailures(t *testing.T) {
	srv, _ := setup(t)
	srv.SetServfail("broken.example.org")
	srv.SetRcode("refused.example.org", dns.RcodeRefused)
	srv.SetDrop("silent.example.org")
	r := newResolver(t, srv, resolver.Options{Timeout: 150 * time.Millisecond, Attempts: 1})

	for _, name := range []string{"broken.example.org", "refused.example.org", "silent.example.org"} {
		t.Run(name, func(t *testing.T) {
			_, err := r.LookupTXT(context.Background(), name)
			if !resolver.IsTemporary(err) || resolver.IsNotFound(err) {
				t.Fatalf("got %v, want a temporary error", err)
			}
			var de *net.DNSError
			if !errors.As(err, &de) || !de.Temporary() {
				t.Fatalf("got %#v, want a temporary *net.DNSError", err)
			}
			if name == "silent.example.org" && !de.Timeout() {
				t.Errorf("no answer: IsTimeout not set in %#v", de)
			}
		})
	}

	// A cancelled context is temporary too, and asks nothing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	before := len(srv.Queries())
	if _, err := r.LookupTXT(ctx, "example.org"); !resolver.IsTemporary(err) {
		t.Errorf("cancelled context: %v, want temporary", err)
	}
	if n := len(srv.Queries()) - before; n != 0 {
		t.Errorf("cancelled context sent %d queries", n)
	}
}

func TestNextServerAfterFailure(t *testing.T) {
	bad := dnstest.NewServer(t)
	bad.SetServfail("example.org")
	silent := dnstest.NewServer(t)
	silent.SetDrop("example.org")
	good := dnstest.NewServer(t)
	good.AddZone(zone)

	r := newResolver(t, nil, resolver.Options{
		Servers:  []string{bad.Addr(), silent.Addr(), good.Addr()},
		Timeout:  150 * time.Millisecond,
		Attempts: 1,
	})
	txts, err := r.LookupTXT(context.Background(), "example.org")
	if err != nil || len(txts) != 1 {
		t.Fatalf("got %q, %v; want the good server's answer", txts, err)
	}
	for _, s := range []*dnstest.Server{bad, silent, good} {
		if n := len(s.Queries()); n != 1 {
			t.Errorf("server %s got %d queries, want 1", s.Addr(), n)
		}
	}

	// NXDOMAIN is final: the next server is not asked.
	r2 := newResolver(t, nil, resolver.Options{Servers: []string{good.Addr(), bad.Addr()}})
	before := len(bad.Queries())
	if _, err := r2.LookupTXT(context.Background(), "nope.example.org"); errKind(err) != "nxdomain" {
		t.Errorf("got %v, want NXDOMAIN", err)
	}
	if len(bad.Queries()) != before {
		t.Error("NXDOMAIN from the first server still asked the second")
	}
}

func TestAttemptsRetryServerList(t *testing.T) {
	srv := dnstest.NewServer(t)
	srv.SetServfail("example.org")
	r := newResolver(t, srv, resolver.Options{Attempts: 3})
	if _, err := r.LookupTXT(context.Background(), "example.org"); !resolver.IsTemporary(err) {
		t.Fatalf("got %v, want temporary", err)
	}
	if n := len(srv.Queries()); n != 3 {
		t.Errorf("%d queries for 3 attempts", n)
	}
}

func TestTruncationRetriesOverTCP(t *testing.T) {
	srv, r := setup(t)
	srv.SetTruncate("example.org")

	// A large record set overflows the 1232-byte EDNS buffer by itself.
	var big []string
	for i := range 40 {
		big = append(big, fmt.Sprintf(`big.example.org. TXT "record %02d %s"`, i, strings.Repeat("x", 60)))
	}
	srv.Add(big...)

	for _, tc := range []struct {
		name string
		want int
	}{{"example.org", 1}, {"big.example.org", 40}} {
		t.Run(tc.name, func(t *testing.T) {
			txts, err := r.LookupTXT(context.Background(), tc.name)
			if err != nil || len(txts) != tc.want {
				t.Fatalf("got %d records, %v; want %d", len(txts), err, tc.want)
			}
			var nets []string
			for _, q := range srv.Queries() {
				if q.Name == tc.name+"." {
					nets = append(nets, q.Net)
				}
			}
			if !slices.Equal(nets, []string{"udp", "tcp"}) {
				t.Errorf("transports used %v, want [udp tcp]", nets)
			}
		})
	}
}

func TestEDNS0Sent(t *testing.T) {
	// Answers up to the EDNS buffer fit in UDP: a 1000-byte TXT set needs
	// no TCP fallback, which it would over plain 512-byte DNS.
	srv, r := setup(t)
	srv.Add(`medium.example.org. TXT "` + strings.Repeat("a", 250) + `" "` + strings.Repeat("b", 250) +
		`" "` + strings.Repeat("c", 250) + `" "` + strings.Repeat("d", 250) + `"`)
	txts, err := r.LookupTXT(context.Background(), "medium.example.org")
	if err != nil || len(txts) != 1 || len(txts[0]) != 1000 {
		t.Fatalf("got %d records, %v", len(txts), err)
	}
	for _, q := range srv.Queries() {
		if q.Net != "udp" {
			t.Errorf("query %v went over %s", q.Name, q.Net)
		}
	}
}

func TestNewOptions(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(conf, []byte("search example.org\nnameserver 127.0.0.53\nnameserver ::1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		opts    resolver.Options
		want    []string
		wantErr bool
	}{
		{resolver.Options{ResolvConf: conf}, []string{"127.0.0.53:53", "[::1]:53"}, false},
		{resolver.Options{Servers: []string{"127.0.0.1", "127.0.0.2:5353", "::1", "[::1]:53"}},
			[]string{"127.0.0.1:53", "127.0.0.2:5353", "[::1]:53", "[::1]:53"}, false},
		{resolver.Options{Servers: []string{"dns.example.org"}}, nil, true},
		{resolver.Options{ResolvConf: filepath.Join(dir, "missing")}, nil, true},
	}
	for i, tt := range tests {
		r, err := resolver.New(tt.opts)
		if (err != nil) != tt.wantErr {
			t.Errorf("%d: New error %v, wantErr %v", i, err, tt.wantErr)
			continue
		}
		if err == nil && !slices.Equal(r.Servers(), tt.want) {
			t.Errorf("%d: servers %q, want %q", i, r.Servers(), tt.want)
		}
	}
}

// TestFromConfig: the [dns] section as config loads it gives a resolver
// that asks its servers.
func TestFromConfig(t *testing.T) {
	srv := dnstest.NewServer(t)
	srv.AddZone(zone)
	d := config.Defaults().DNS
	d.Servers = []string{srv.Addr()}
	r, err := resolver.FromConfig(d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.LookupTXT(context.Background(), "example.org")
	if err != nil || len(got) != 1 || got[0] != "v=spf1 ip4:192.0.2.1 -all" {
		t.Errorf("LookupTXT = %q, %v", got, err)
	}
	d.Servers = []string{"not an address"}
	if _, err := resolver.FromConfig(d); err == nil {
		t.Error("a bad server was accepted")
	}
}
