package mtasts

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"dkimrelay/internal/testkit"
	"dkimrelay/resolver"
	"dkimrelay/resolver/dnstest"
)

const enforcePolicy = "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.net\r\nmx: *.backup.example.net\r\nmax_age: 86400\r\n"

// policyHost is an HTTPS server on 127.0.0.2 acting as mta-sts.example.net,
// with a certificate from a test CA, and the DNS naming it.
type policyHost struct {
	ca    *testkit.CA
	dns   *dnstest.Server
	res   *resolver.Resolver
	srv   *httptest.Server
	port  int
	hits  atomic.Int32
	mu    sync.Mutex
	serve http.HandlerFunc
}

func newPolicyHost(t *testing.T, cert func(*testkit.CA) tls.Certificate) *policyHost {
	t.Helper()
	h := &policyHost{ca: testkit.NewCA(t), dns: dnstest.NewServer(t)}
	h.dns.Add("mta-sts.example.net. A 127.0.0.2", `_mta-sts.example.net. TXT "v=STSv1; id=1"`)
	var err error
	h.res, err = resolver.New(resolver.Options{Servers: []string{h.dns.Addr()}, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h.setPolicy(enforcePolicy)
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.hits.Add(1)
		h.mu.Lock()
		serve := h.serve
		h.mu.Unlock()
		serve(w, r)
	}))
	h.srv.Listener.Close()
	h.srv.Listener = ln
	if cert == nil {
		cert = func(ca *testkit.CA) tls.Certificate { return ca.Issue(t, "mta-sts.example.net") }
	}
	h.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert(h.ca)}}
	h.srv.StartTLS()
	t.Cleanup(h.srv.Close)
	h.port = ln.Addr().(*net.TCPAddr).Port
	return h
}

func (h *policyHost) setPolicy(text string) {
	h.setHandler(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/mta-sts.txt" || r.Host != "mta-sts.example.net:"+itoa(h.port) {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, text)
	})
}

func (h *policyHost) setHandler(f http.HandlerFunc) {
	h.mu.Lock()
	h.serve = f
	h.mu.Unlock()
}

// clock is a time that tests move.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (h *policyHost) cache(t *testing.T, dir string, clk *clock) *Cache {
	t.Helper()
	c, err := New(Options{Dir: dir, Resolver: h.res, RootCAs: h.ca.Pool(), Port: h.port, Timeout: 2 * time.Second, Now: clk.Now,
		Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCacheLifecycle(t *testing.T) {
	h := newPolicyHost(t, nil)
	dir := t.TempDir()
	clk := &clock{now: time.Now()}
	c := h.cache(t, dir, clk)
	ctx := context.Background()

	got := c.Policy(ctx, "example.net")
	if got.Policy == nil || got.Policy.Mode != Enforce || got.Source != "fetched" || got.Stored.ID != "1" {
		t.Fatalf("first lookup: %+v", got)
	}
	if !got.Policy.Matches("mx1.example.net") || !got.Policy.Matches("a.backup.example.net") || got.Policy.Matches("evil.example") {
		t.Errorf("policy mx %v", got.Policy.MX)
	}
	// Many messages, one fetch and one record lookup.
	for range 20 {
		c.Policy(ctx, "example.net")
	}
	if n := h.hits.Load(); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}

	// The id changes: the new policy is fetched once the record is
	// asked again.
	replaceTXT(t, h, "v=STSv1; id=2")
	h.setPolicy(strings.Replace(enforcePolicy, "enforce", "testing", 1))
	if got := c.Policy(ctx, "example.net"); got.Policy.Mode != Enforce {
		t.Errorf("within the recheck time the answer stays: %+v", got)
	}
	clk.add(DefaultRecheck)
	got = c.Policy(ctx, "example.net")
	if got.Policy == nil || got.Policy.Mode != Testing || got.Stored.ID != "2" || h.hits.Load() != 2 {
		t.Fatalf("after the id changed: %+v, %d fetches", got, h.hits.Load())
	}

	// A restart while the policy host is down and the id changed again:
	// the kept policy applies, and says why.
	h.srv.Close()
	replaceTXT(t, h, "v=STSv1; id=3")
	c = h.cache(t, dir, clk)
	got = c.Policy(ctx, "example.net")
	if got.Policy == nil || got.Policy.Mode != Testing || got.Source != "cache" || !strings.Contains(got.Problem, "fetching https://mta-sts.example.net") {
		t.Fatalf("policy host down after a restart: %+v", got)
	}

	// The record is withdrawn: the cached policy stays until it expires
	// (RFC 8461 section 5.1), then there is none and the file goes.
	replaceTXT(t, h)
	clk.add(DefaultRecheck)
	if got := c.Policy(ctx, "example.net"); got.Policy == nil || got.Source != "cache" {
		t.Fatalf("record withdrawn: %+v", got)
	}
	clk.add(24 * time.Hour)
	if got := c.Policy(ctx, "example.net"); got.Policy != nil || !strings.Contains(got.Problem, "no MTA-STS record") {
		t.Fatalf("after max_age: %+v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "example.net.json")); !os.IsNotExist(err) {
		t.Errorf("expired policy file still there: %v", err)
	}
}

// replaceTXT makes _mta-sts.example.net hold the given records alone.
func replaceTXT(t *testing.T, h *policyHost, txts ...string) {
	t.Helper()
	h.dns.Remove("_mta-sts.example.net", dns.TypeTXT)
	for _, txt := range txts {
		h.dns.Add(`_mta-sts.example.net. TXT "` + txt + `"`)
	}
}

func TestFetchFailures(t *testing.T) {
	tests := []struct {
		name    string
		cert    func(*testkit.CA) tls.Certificate
		handler func(h *policyHost) http.HandlerFunc
		roots   bool // trust the test CA
		problem string
	}{
		{"wrong certificate name", func(ca *testkit.CA) tls.Certificate { return ca.Issue(t, "www.example.net") }, nil, true, "certificate is valid for www.example.net"},
		{"expired certificate", func(ca *testkit.CA) tls.Certificate { return ca.Expired(t, "mta-sts.example.net") }, nil, true, "expired"},
		{"self-signed certificate", func(*testkit.CA) tls.Certificate { return testkit.SelfSigned(t, "mta-sts.example.net") }, nil, true, "unknown authority"},
		{"CA not trusted", nil, nil, false, "unknown authority"},
		{"redirect", nil, func(*policyHost) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://elsewhere.example/policy.txt", http.StatusFound)
			}
		}, true, "redirected to https://elsewhere.example/policy.txt"},
		{"not found", nil, func(*policyHost) http.HandlerFunc { return http.NotFound }, true, "HTTP status 404"},
		{"HTML", nil, func(*policyHost) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, enforcePolicy)
			}
		}, true, "want text/plain"},
		{"too large", nil, func(*policyHost) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				io.WriteString(w, enforcePolicy+strings.Repeat("x: y\n", maxPolicySize/4))
			}
		}, true, "larger than"},
		{"malformed", nil, func(*policyHost) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				io.WriteString(w, "version: STSv1\nmode: enforce\nmax_age: 100\n")
			}
		}, true, "names no mx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newPolicyHost(t, tt.cert)
			if tt.handler != nil {
				h.setHandler(tt.handler(h))
			}
			opts := Options{Resolver: h.res, Port: h.port, Timeout: 2 * time.Second, Logger: testLogger(t)}
			if tt.roots {
				opts.RootCAs = h.ca.Pool()
			}
			c, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			// RFC 8461 section 5: no policy cached, none fetched: no policy.
			got := c.Policy(context.Background(), "example.net")
			if got.Policy != nil || !strings.Contains(got.Problem, tt.problem) {
				t.Errorf("got %+v, want no policy and a problem ~%q", got, tt.problem)
			}
		})
	}
}

func TestNoPolicy(t *testing.T) {
	h := newPolicyHost(t, nil)
	h.dns.SetServfail("_mta-sts.broken.example")
	c := h.cache(t, "", &clock{now: time.Now()})
	for domain, problem := range map[string]string{
		"nothing.example": "no MTA-STS record",
		"broken.example":  "looking up _mta-sts.broken.example",
		"[127.0.0.1]":     "not a domain name",
		"../etc":          "not a domain name",
	} {
		got := c.Policy(context.Background(), domain)
		if got.Policy != nil || !strings.Contains(got.Problem, problem) {
			t.Errorf("%s: got %+v, want no policy, problem ~%q", domain, got, problem)
		}
	}
	if n := h.hits.Load(); n != 0 {
		t.Errorf("%d fetches for domains without a record", n)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}
