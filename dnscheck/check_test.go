package dnscheck

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"dkimrelay/config"
	"dkimrelay/internal/goldenfile"
	"dkimrelay/internal/testkit"
	"dkimrelay/keys"
	"dkimrelay/resolver"
	"dkimrelay/resolver/dnstest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var (
	egress4 = net.ParseIP("192.0.2.10")
	egress6 = net.ParseIP("2001:db8::10")
)

// healthy is a domain with every record right, in named parts that the
// broken scenarios replace. DKIM records come from the test keys.
func healthy() map[string]string {
	rev4, _ := dns.ReverseAddr(egress4.String())
	rev6, _ := dns.ReverseAddr(egress6.String())
	return map[string]string{
		"spf":    `example.org. TXT "v=spf1 mx ip4:192.0.2.10 ip6:2001:db8::10 -all"`,
		"mx":     "example.org. MX 10 mx.example.org.\nmx.example.org. A 192.0.2.20",
		"dmarc":  `_dmarc.example.org. TXT "v=DMARC1; p=reject; adkim=r; aspf=r; rua=mailto:dmarc@example.org"`,
		"ptr":    rev4 + " PTR mail.example.org.\n" + rev6 + " PTR mail.example.org.",
		"host":   "mail.example.org. A 192.0.2.10\nmail.example.org. AAAA 2001:db8::10",
		"mtasts": `_mta-sts.example.org. TXT "v=STSv1; id=20260101"`,
		"tlsrpt": `_smtp._tls.example.org. TXT "v=TLSRPTv1; rua=mailto:tls-reports@example.org"`,
		"probe":  "probe.test. MX 10 sink.probe.test.\nsink.probe.test. A 127.0.0.1",
	}
}

func loadKey(t *testing.T, file, selector string, alg keys.Algorithm, state keys.State) *keys.Key {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s: no PEM block", file)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return &keys.Key{Domain: "example.org", Selector: selector, Algorithm: alg, State: state, Signer: k.(crypto.Signer)}
}

func testKeys(t *testing.T) []*keys.Key {
	return []*keys.Key{
		loadKey(t, "rsa2048.pem", "rsa2026", keys.RSA2048, keys.Active),
		loadKey(t, "ed25519.pem", "ed2026", keys.Ed25519, keys.Active),
		loadKey(t, "rsa2048-pending.pem", "rsa2027", keys.RSA2048, keys.Pending),
	}
}

func weakKeyRecord(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join("testdata", "rsa1024.pub.b64"))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`rsa2026._domainkey.example.org. TXT "v=DKIM1; k=rsa; p=%s"`, strings.TrimSpace(string(b)))
}

// sink greets like an SMTP server on loopback, for the port 25 probe; the
// probe never leaves the machine in tests.
func sink(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	testkit.ServeRaw(t, ln, func(c net.Conn) { fmt.Fprintf(c, "220 sink.probe.test ESMTP\r\n") })
	return ln.Addr().(*net.TCPAddr).Port
}

// closedPort is a loopback port nothing listens on: connections to it are
// refused, as a blocked port 25 often is.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

type scenario struct {
	name     string
	parts    map[string]string // replaces parts of healthy(); "" removes one
	dkim     map[string]bool   // selectors whose record is not published
	extra    func(t *testing.T) string
	servfail []string
	options  func(o *Options)
	blocked  bool // port 25 refused
	failed   bool // a required check fails
}

var scenarios = []scenario{
	{name: "healthy"},
	{name: "spf-missing", parts: map[string]string{"spf": ""}, failed: true},
	{name: "spf-unauthorized", parts: map[string]string{"spf": `example.org. TXT "v=spf1 mx ip4:198.51.100.0/24 ~all"`}, failed: true},
	{name: "spf-two-records", parts: map[string]string{"spf": "example.org. TXT \"v=spf1 ip4:192.0.2.10 -all\"\nexample.org. TXT \"v=spf1 ip6:2001:db8::10 -all\""}, failed: true},
	{name: "spf-too-many-lookups", parts: map[string]string{"spf": `example.org. TXT "v=spf1 ip4:192.0.2.10 ip6:2001:db8::10 include:a.spf.example.org include:b.spf.example.org -all"` + "\n" +
		`a.spf.example.org. TXT "v=spf1 a:h1.example.org a:h2.example.org a:h3.example.org a:h4.example.org mx:m1.example.org ?all"` + "\n" +
		`b.spf.example.org. TXT "v=spf1 exists:%{i}.x.example.org a:h5.example.org a:h6.example.org redirect=c.spf.example.org"` + "\n" +
		`c.spf.example.org. TXT "v=spf1 ptr -all"`}, failed: true},
	{name: "spf-syntax", parts: map[string]string{"spf": `example.org. TXT "v=spf1 ip4:192.0.2.10 ip6:2001:db8::10 mx: -all"`}, failed: true},
	{name: "spf-loop", parts: map[string]string{"spf": `example.org. TXT "v=spf1 ip4:192.0.2.10 ip6:2001:db8::10 include:loop.example.org -all"` + "\n" +
		`loop.example.org. TXT "v=spf1 redirect=example.org"`}, failed: true},
	{name: "dkim-missing", dkim: map[string]bool{"rsa2026": true, "rsa2027": true}, failed: true},
	{name: "dkim-weak-key", dkim: map[string]bool{"rsa2026": true}, extra: weakKeyRecord, failed: true},
	{name: "dkim-no-active", options: func(o *Options) {
		o.Keys = o.Keys[2:]
	}, failed: true},
	{name: "dkim-ed25519-only", options: func(o *Options) {
		o.Keys = o.Keys[1:2]
	}},
	{name: "dmarc-missing", parts: map[string]string{"dmarc": ""}, failed: true},
	{name: "dmarc-invalid", parts: map[string]string{"dmarc": `_dmarc.example.org. TXT "v=DMARC1; p=maybe"`}, failed: true},
	{name: "dmarc-no-rua", parts: map[string]string{"dmarc": `_dmarc.example.org. TXT "v=DMARC1; p=none; aspf=s"`}},
	{name: "rdns-missing", parts: map[string]string{"ptr": ""}, failed: true},
	{name: "rdns-not-confirmed", parts: map[string]string{"host": "mail.example.org. A 192.0.2.99"}, failed: true},
	{name: "rdns-other-name", parts: map[string]string{"ptr": func() string {
		rev4, _ := dns.ReverseAddr(egress4.String())
		rev6, _ := dns.ReverseAddr(egress6.String())
		return rev4 + " PTR vps-17.provider.example.\n" + rev6 + " PTR mail.example.org.\nvps-17.provider.example. A 192.0.2.10"
	}()}},
	{name: "mx-null", parts: map[string]string{"mx": "example.org. MX 0 ."}, failed: true},
	{name: "mx-implicit", parts: map[string]string{"mx": "example.org. A 192.0.2.20"}},
	{name: "port25-blocked", blocked: true, failed: true},
	{name: "smarthost", options: func(o *Options) {
		o.Mode, o.EgressIPs, o.Probe = "smarthost", nil, nil
	}},
	{name: "no-info-records", parts: map[string]string{"mtasts": "", "tlsrpt": ""}},
	{name: "bulk-unsubscribe-missing", options: func(o *Options) {
		o.Bulk = &BulkMail{Since: "7 days", Messages: 1200, Missing: 3}
	}},
	{name: "bulk-unsubscribe-present", options: func(o *Options) {
		o.Bulk = &BulkMail{Since: "7 days", Messages: 1200}
	}},
	{name: "dns-failing", servfail: []string{"example.org", "_dmarc.example.org", "10.2.0.192.in-addr.arpa"}, failed: true},
}

func (sc scenario) run(t *testing.T) *Report {
	t.Helper()
	srv := dnstest.NewServer(t)
	parts := healthy()
	for k, v := range sc.parts {
		parts[k] = v
	}
	names := make([]string, 0, len(parts))
	for k := range parts {
		names = append(names, k)
	}
	sort.Strings(names)
	var zone strings.Builder
	for _, k := range names {
		zone.WriteString(parts[k] + "\n")
	}
	ks := testKeys(t)
	for _, k := range ks {
		if sc.dkim[k.Selector] {
			continue
		}
		z, err := k.Zone()
		if err != nil {
			t.Fatal(err)
		}
		zone.WriteString(z + "\n")
	}
	if sc.extra != nil {
		zone.WriteString(sc.extra(t) + "\n")
	}
	srv.AddZone(zone.String())
	for _, n := range sc.servfail {
		srv.SetServfail(n)
	}
	res, err := resolver.New(resolver.Options{Servers: []string{srv.Addr()}, Timeout: 2 * time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	port := 0
	if sc.blocked {
		port = closedPort(t)
	} else {
		port = sink(t)
	}
	o := Options{
		Domain:    "example.org",
		Hostname:  "mail.example.org",
		Mode:      config.ModeMX,
		EgressIPs: []net.IP{egress4, egress6},
		Keys:      ks,
		Resolver:  res,
		Probe:     &Probe{Domain: "probe.test", Port: port, Timeout: 5 * time.Second},
	}
	if sc.options != nil {
		sc.options(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return Run(ctx, o)
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name), got, *update)
}

func TestCheckGolden(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			r := sc.run(t)
			var text bytes.Buffer
			if err := r.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			golden(t, sc.name+".golden", text.Bytes())
			if r.Failed() != sc.failed {
				t.Errorf("Failed() = %v, want %v", r.Failed(), sc.failed)
			}
			for _, res := range r.Results {
				if res.Status == Fail && res.Record == "" && !strings.Contains(res.Message, ": ") && !strings.Contains(res.Message, "; ") {
					t.Errorf("%s fails without saying what to do: %s", res.Check, res.Message)
				}
			}
		})
	}
}

func TestCheckJSON(t *testing.T) {
	for _, name := range []string{"healthy", "dkim-missing"} {
		for _, sc := range scenarios {
			if sc.name != name {
				continue
			}
			r := sc.run(t)
			var out bytes.Buffer
			if err := r.WriteJSON(&out); err != nil {
				t.Fatal(err)
			}
			golden(t, name+".json", out.Bytes())
		}
	}
}
