package authcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"blitiri.com.ar/go/spf"

	"dkimrelay/resolver"
	"dkimrelay/resolver/dnstest"
)

// spfZone holds one domain per case of RFC 7208's mechanisms, results and
// limits. The same zone is served to the relay's evaluator and to pyspf.
const spfZone = `
$ORIGIN spf.test.
ip4          TXT "v=spf1 ip4:192.0.2.0/24 -all"
ip6          TXT "v=spf1 ip6:2001:db8:1::/48 -all"
a            TXT "v=spf1 a -all"
a            A    192.0.2.10
a            AAAA 2001:db8:a::10
a-other      TXT "v=spf1 a:host.a-other.spf.test/28 -all"
host.a-other A    198.51.100.17
mx           TXT "v=spf1 mx -all"
mx           MX   10 out1.mx.spf.test.
mx           MX   20 out2.mx.spf.test.
out1.mx      A    192.0.2.20
out2.mx      AAAA 2001:db8:2::20
include      TXT "v=spf1 include:ip4.spf.test include:ip6.spf.test -all"
include-none TXT "v=spf1 include:nothing.spf.test -all"
nothing      A    192.0.2.99
redirect     TXT "v=spf1 redirect=ip4.spf.test"
redirect-mx  TXT "v=spf1 ip4:203.0.113.1 redirect=mx.spf.test"
exists       TXT "v=spf1 exists:%{i}.allow.exists.spf.test -all"
192.0.2.30.allow.exists A 127.0.0.2
exists-local TXT "v=spf1 exists:%{l}.users.exists-local.spf.test -all"
alice.users.exists-local A 127.0.0.2
softfail     TXT "v=spf1 ip4:192.0.2.1 ~all"
fail         TXT "v=spf1 ip4:192.0.2.1 -all"
neutral      TXT "v=spf1 ip4:192.0.2.1 ?all"
implicit     TXT "v=spf1 ip4:192.0.2.1"
none         A    192.0.2.40
none         TXT "google-site-verification=abc"
void         TXT "v=spf1 a:nx1.spf.test a:nx2.spf.test a:nx3.spf.test ip4:192.0.2.0/24 -all"
void-two     TXT "v=spf1 a:nx1.spf.test a:nx2.spf.test ip4:192.0.2.0/24 -all"
many         TXT "v=spf1 a:h1.many.spf.test a:h2.many.spf.test a:h3.many.spf.test a:h4.many.spf.test a:h5.many.spf.test a:h6.many.spf.test a:h7.many.spf.test a:h8.many.spf.test a:h9.many.spf.test a:h10.many.spf.test a:h11.many.spf.test -all"
ten          TXT "v=spf1 a:h1.many.spf.test a:h2.many.spf.test a:h3.many.spf.test a:h4.many.spf.test a:h5.many.spf.test a:h6.many.spf.test a:h7.many.spf.test a:h8.many.spf.test a:h9.many.spf.test a:h10.many.spf.test -all"
h1.many      A 198.51.100.1
h2.many      A 198.51.100.2
h3.many      A 198.51.100.3
h4.many      A 198.51.100.4
h5.many      A 198.51.100.5
h6.many      A 198.51.100.6
h7.many      A 198.51.100.7
h8.many      A 198.51.100.8
h9.many      A 198.51.100.9
h10.many     A 198.51.100.10
h11.many     A 198.51.100.11
loop         TXT "v=spf1 include:loop.spf.test -all"
loop-a       TXT "v=spf1 include:loop-b.spf.test -all"
loop-b       TXT "v=spf1 redirect=loop-a.spf.test"
syntax       TXT "v=spf1 ip4:192.0.2.1 bogus -all"
bad-ip       TXT "v=spf1 ip4:192.0.2.300 -all"
two          TXT "v=spf1 ip4:192.0.2.1 -all"
two          TXT "v=spf1 ip4:192.0.2.2 -all"
servfail-include TXT "v=spf1 include:servfail.spf.test -all"
not-fqdn     TXT "v=spf1 ip4:192.0.2.1 a:localhost -all"
bad-cidr     TXT "v=spf1 ip4:192.0.2.0/33 -all"
all-arg      TXT "v=spf1 ip4:192.0.2.1 -all:x"
bad-macro    TXT "v=spf1 ip4:192.0.2.1 exists:%{x}.spf.test -all"
two-redirect TXT "v=spf1 redirect=ip4.spf.test redirect=ip6.spf.test"
unknown-mod  TXT "v=spf1 foo=bar ip4:192.0.2.1 -all"
bad-include  TXT "v=spf1 include:syntax.spf.test -all"
`

type spfCase struct {
	name   string
	ip     string
	sender string
	want   spf.Result
}

var spfCases = []spfCase{
	{"ip4 inside the prefix", "192.0.2.77", "a@ip4.spf.test", spf.Pass},
	{"ip4 outside the prefix", "198.51.100.1", "a@ip4.spf.test", spf.Fail},
	{"ip6 inside the prefix", "2001:db8:1::25", "a@ip6.spf.test", spf.Pass},
	{"ip6 outside the prefix", "2001:db8:9::25", "a@ip6.spf.test", spf.Fail},
	{"ip4 against ip6 only", "192.0.2.77", "a@ip6.spf.test", spf.Fail},
	{"a matches A", "192.0.2.10", "a@a.spf.test", spf.Pass},
	{"a matches AAAA", "2001:db8:a::10", "a@a.spf.test", spf.Pass},
	{"a no match", "192.0.2.11", "a@a.spf.test", spf.Fail},
	{"a:host/28", "198.51.100.30", "a@a-other.spf.test", spf.Pass},
	{"a:host/28 outside", "198.51.100.33", "a@a-other.spf.test", spf.Fail},
	{"mx first", "192.0.2.20", "a@mx.spf.test", spf.Pass},
	{"mx second ipv6", "2001:db8:2::20", "a@mx.spf.test", spf.Pass},
	{"mx no match", "192.0.2.21", "a@mx.spf.test", spf.Fail},
	{"include ip4", "192.0.2.5", "a@include.spf.test", spf.Pass},
	{"include ip6", "2001:db8:1::5", "a@include.spf.test", spf.Pass},
	{"include no match", "203.0.113.5", "a@include.spf.test", spf.Fail},
	{"include without record", "192.0.2.5", "a@include-none.spf.test", spf.PermError},
	{"redirect", "192.0.2.5", "a@redirect.spf.test", spf.Pass},
	{"redirect fail", "203.0.113.5", "a@redirect.spf.test", spf.Fail},
	{"redirect after terms", "192.0.2.20", "a@redirect-mx.spf.test", spf.Pass},
	{"exists %{i}", "192.0.2.30", "a@exists.spf.test", spf.Pass},
	{"exists %{i} no match", "192.0.2.31", "a@exists.spf.test", spf.Fail},
	{"exists %{l} alice", "192.0.2.31", "alice@exists-local.spf.test", spf.Pass},
	{"exists %{l} bob", "192.0.2.31", "bob@exists-local.spf.test", spf.Fail},
	{"~all", "203.0.113.5", "a@softfail.spf.test", spf.SoftFail},
	{"-all", "203.0.113.5", "a@fail.spf.test", spf.Fail},
	{"?all", "203.0.113.5", "a@neutral.spf.test", spf.Neutral},
	{"no all", "203.0.113.5", "a@implicit.spf.test", spf.Neutral},
	{"no SPF record", "203.0.113.5", "a@none.spf.test", spf.None},
	{"no such domain", "203.0.113.5", "a@nxdomain.spf.test", spf.None},
	{"two void lookups", "192.0.2.5", "a@void-two.spf.test", spf.Pass},
	{"three void lookups", "192.0.2.5", "a@void.spf.test", spf.PermError},
	{"ten lookups", "198.51.100.10", "a@ten.spf.test", spf.Pass},
	{"eleven lookups", "198.51.100.11", "a@many.spf.test", spf.PermError},
	{"include loop", "192.0.2.5", "a@loop.spf.test", spf.PermError},
	{"include redirect loop", "192.0.2.5", "a@loop-a.spf.test", spf.PermError},
	{"unknown term", "192.0.2.1", "a@syntax.spf.test", spf.PermError},
	{"bad ip4", "192.0.2.1", "a@bad-ip.spf.test", spf.PermError},
	{"two records", "192.0.2.1", "a@two.spf.test", spf.PermError},
	{"domain not fully qualified", "192.0.2.1", "a@not-fqdn.spf.test", spf.PermError},
	{"prefix too long", "192.0.2.1", "a@bad-cidr.spf.test", spf.PermError},
	{"all with argument", "192.0.2.1", "a@all-arg.spf.test", spf.PermError},
	{"unknown macro letter", "192.0.2.1", "a@bad-macro.spf.test", spf.PermError},
	{"two redirects", "192.0.2.1", "a@two-redirect.spf.test", spf.PermError},
	{"unknown modifier ignored", "192.0.2.1", "a@unknown-mod.spf.test", spf.Pass},
	{"include of a broken record", "192.0.2.1", "a@bad-include.spf.test", spf.PermError},
	{"SERVFAIL", "192.0.2.1", "a@servfail.spf.test", spf.TempError},
	{"SERVFAIL in include", "192.0.2.1", "a@servfail-include.spf.test", spf.TempError},
}

const testHELO = "relay.example.net"

func spfServer(t *testing.T) (*dnstest.Server, *resolver.Resolver) {
	t.Helper()
	srv := dnstest.NewServer(t)
	srv.AddZone(spfZone)
	srv.SetServfail("servfail.spf.test")
	res, err := resolver.New(resolver.Options{Servers: []string{srv.Addr()}, Timeout: 2 * time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return srv, res
}

func TestSPFCases(t *testing.T) {
	_, res := spfServer(t)
	s := NewSPF(res, testHELO, nil)
	for _, c := range spfCases {
		t.Run(c.name, func(t *testing.T) {
			got := s.Check(context.Background(), net.ParseIP(c.ip), c.sender)
			if got.Result != c.want {
				t.Errorf("check_host(%s, %s) = %s (%s), want %s", c.ip, c.sender, got.Result, got.Reason(), c.want)
			}
			if got.Result == spf.PermError && (got.Reason() == "" || strings.HasPrefix(got.Reason(), "matched")) {
				t.Errorf("permerror without a reason: %q (%v)", got.Reason(), got.Err)
			}
		})
	}
}

// TestSPFAgainstPyspf runs the same zone and cases through pyspf, an
// independent implementation of RFC 7208, and fails wherever it and the
// relay's evaluator disagree.
func TestSPFAgainstPyspf(t *testing.T) {
	py := findPyspf()
	if py == "" {
		msg := "no python3 can import spf and dns.resolver: install the Debian packages python3-spf python3-dnspython"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	srv, res := spfServer(t)
	host, port, _ := net.SplitHostPort(srv.Addr())
	p, _ := strconv.Atoi(port)
	type pyCase struct {
		IP     string `json:"ip"`
		Sender string `json:"sender"`
	}
	req := struct {
		Server string   `json:"server"`
		Port   int      `json:"port"`
		HELO   string   `json:"helo"`
		Cases  []pyCase `json:"cases"`
	}{Server: host, Port: p, HELO: testHELO}
	for _, c := range spfCases {
		req.Cases = append(req.Cases, pyCase{c.ip, c.sender})
	}
	in, _ := json.Marshal(req)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "testdata/pyspf.py")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pyspf: %v\n%s", err, stderr.String())
	}
	var got []struct {
		Result      string `json:"result"`
		Explanation string `json:"explanation"`
	}
	if err := json.Unmarshal(out, &got); err != nil || len(got) != len(spfCases) {
		t.Fatalf("pyspf output (%v): %s\n%s", err, out, stderr.String())
	}
	for i, c := range spfCases {
		ours := Evaluate(ctx, res, testHELO, net.ParseIP(c.ip), c.sender)
		if string(ours.Result) != got[i].Result {
			t.Errorf("%s: check_host(%s, %s): dkimrelay says %s (%s), pyspf says %s (%s)",
				c.name, c.ip, c.sender, ours.Result, ours.Reason(), got[i].Result, got[i].Explanation)
		}
	}
}

func findPyspf() string {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		p, err := exec.LookPath(py)
		if err != nil {
			continue
		}
		if exec.Command(p, "-c", "import spf, dns.resolver").Run() == nil {
			return p
		}
	}
	return ""
}

// fakeClock is a clock tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func countQueries(srv *dnstest.Server, name string) int {
	n := 0
	for _, q := range srv.Queries() {
		if q.Name == name {
			n++
		}
	}
	return n
}

func TestSPFCacheFollowsTTL(t *testing.T) {
	srv := dnstest.NewServer(t)
	srv.AddZone(`
short.test.  5     TXT "v=spf1 ip4:192.0.2.1 -all"
mid.test.    600   TXT "v=spf1 a:host.mid.test -all"
host.mid.test. 120 A 192.0.2.1
long.test.   86400 TXT "v=spf1 ip4:192.0.2.1 -all"
`)
	res, err := resolver.New(resolver.Options{Servers: []string{srv.Addr()}, Timeout: 2 * time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	ip := net.ParseIP("192.0.2.1")
	for _, tc := range []struct {
		domain string
		// still cached after keep, looked up again after keep+1s
		keep time.Duration
	}{
		{"short.test", MinCacheTTL},     // TTL 5s, raised to the floor
		{"mid.test", 120 * time.Second}, // smallest TTL of the records used
		{"long.test", MaxCacheTTL},      // TTL a day, lowered to the ceiling
	} {
		t.Run(tc.domain, func(t *testing.T) {
			clock := &fakeClock{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
			s := NewSPF(res, testHELO, clock.now)
			name := tc.domain + "."
			check := func(wantCached bool) {
				t.Helper()
				r := s.Check(context.Background(), ip, "x@"+tc.domain)
				if r.Result != spf.Pass || r.Cached != wantCached {
					t.Fatalf("after %v: %s cached=%v, want pass cached=%v", clock.t.Sub(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)), r.Result, r.Cached, wantCached)
				}
			}
			before := countQueries(srv, name)
			check(false)
			clock.advance(tc.keep - time.Second)
			check(true)
			// The other sender of the same domain shares the result.
			if r := s.Check(context.Background(), ip, "y@"+tc.domain); !r.Cached {
				t.Errorf("another sender of %s was not served from the cache", tc.domain)
			}
			clock.advance(2 * time.Second)
			check(false)
			if n := countQueries(srv, name) - before; n != 2 {
				t.Errorf("%d TXT queries for %s, want 2", n, name)
			}
		})
	}
}

func TestSPFCacheKeepsNoTempError(t *testing.T) {
	srv, res := spfServer(t)
	s := NewSPF(res, testHELO, nil)
	for range 2 {
		r := s.Check(context.Background(), net.ParseIP("192.0.2.1"), "a@servfail.spf.test")
		if r.Result != spf.TempError || r.Cached {
			t.Fatalf("got %s cached=%v, want an uncached temperror", r.Result, r.Cached)
		}
	}
	if n := countQueries(srv, "servfail.spf.test."); n != 2 {
		t.Errorf("%d queries, want 2: a temperror must be retried", n)
	}
}

// A record that expands the local part must be cached per sender, or one
// sender's result would be given to another.
func TestSPFCachePerSenderMacros(t *testing.T) {
	_, res := spfServer(t)
	s := NewSPF(res, testHELO, nil)
	ip := net.ParseIP("192.0.2.31")
	for range 2 {
		if r := s.Check(context.Background(), ip, "alice@exists-local.spf.test"); r.Result != spf.Pass {
			t.Errorf("alice: %s, want pass", r.Result)
		}
		if r := s.Check(context.Background(), ip, "bob@exists-local.spf.test"); r.Result != spf.Fail {
			t.Errorf("bob: %s, want fail", r.Result)
		}
	}
	if r := s.Check(context.Background(), ip, "alice@exists-local.spf.test"); !r.Cached {
		t.Error("alice's second result was not cached")
	}
}

func TestSPFReasons(t *testing.T) {
	_, res := spfServer(t)
	for _, c := range []struct{ sender, want string }{
		{"a@many.spf.test", "more than 10 DNS lookups"},
		{"a@void.spf.test", "more than 2 of the record's DNS lookups find nothing"},
		{"a@two.spf.test", "more than one SPF record"},
		{"a@syntax.spf.test", `the SPF record of syntax.spf.test has an invalid term "bogus": unknown mechanism`},
		{"a@bad-ip.spf.test", `"192.0.2.300" is not an IPv4 address`},
		{"a@include-none.spf.test", "publishes no SPF record"},
		{"a@fail.spf.test", `matched "all"`},
		{"a@none.spf.test", "publishes no SPF record"},
	} {
		r := Evaluate(context.Background(), res, testHELO, net.ParseIP("203.0.113.9"), c.sender)
		if !strings.Contains(r.Reason(), c.want) {
			t.Errorf("%s: reason %q, want it to contain %q", c.sender, r.Reason(), c.want)
		}
	}
}
