// Package dnssectest runs a DNSSEC chain on loopback for tests: Knot DNS
// (Debian package knot) serving the zones given, signing those that ask
// for it, and Unbound (Debian package unbound) validating answers with the
// signed zones' keys as trust anchors, as a relay's local resolver would.
// A zone can also be made bogus: signed, but anchored to another key, so
// that Unbound answers SERVFAIL for it.
package dnssectest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"dkimrelay/internal/testkit"
)

// Packages are the Debian packages the chain needs.
var Packages = []string{"knot", "unbound"}

// Zone is one zone of the chain.
type Zone struct {
	Name string // e.g. "signed.test"
	// Records are zone-file lines with fully qualified owners; the SOA
	// and NS are added.
	Records []string
	Signed  bool // Knot signs it and Unbound is given its key
	// Bogus: Knot signs it but Unbound is given another key, so every
	// answer from it fails validation.
	Bogus bool
}

// Chain is a running Knot and Unbound; both stop when the test ends.
type Chain struct {
	// Addr is Unbound's "127.0.0.1:port": the validating resolver to
	// put in dns.servers.
	Addr string
	dir  string
	logs testkit.Output
}

// Start runs the chain for zones.
func Start(t testing.TB, zones ...Zone) *Chain {
	t.Helper()
	knotd, unbound := binary(t, "knotd"), binary(t, "unbound")
	c := &Chain{dir: t.TempDir()}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("knotd and unbound log:\n%s", c.Logs())
		}
	})
	knotPort, unboundPort := testkit.FreeUDPAndTCPPort(t), testkit.FreeUDPAndTCPPort(t)
	knotAddr := "127.0.0.1:" + knotPort
	if err := c.writeKnot(knotPort, zones); err != nil {
		t.Fatal(err)
	}
	c.run(t, knotd, "-c", filepath.Join(c.dir, "knot.conf"))
	anchors := map[string]string{}
	for _, z := range zones {
		want := dns.TypeSOA
		if z.Signed || z.Bogus {
			want = dns.TypeDNSKEY // signing done
		}
		rrs := c.wait(t, knotAddr, z.Name, want)
		switch {
		case z.Bogus:
			anchors[z.Name] = otherKey(t, z.Name)
		case z.Signed:
			for _, rr := range rrs {
				if k, ok := rr.(*dns.DNSKEY); ok && k.Flags == 257 {
					anchors[z.Name] = anchor(k)
				}
			}
		}
	}
	if err := c.writeUnbound(unboundPort, knotPort, zones, anchors); err != nil {
		t.Fatal(err)
	}
	c.run(t, unbound, "-d", "-c", filepath.Join(c.dir, "unbound.conf"))
	c.Addr = "127.0.0.1:" + unboundPort
	c.wait(t, c.Addr, zones[0].Name, dns.TypeNS)
	return c
}

// binary finds a server program of the chain.
func binary(t testing.TB, name string) string {
	t.Helper()
	p, err := testkit.ServerBinary(name, strings.Join(Packages, " "))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// run starts a server until the test ends.
func (c *Chain) run(t testing.TB, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &c.logs, &c.logs
	testkit.StartDaemon(t, filepath.Base(bin), cmd, nil)
}

// Logs is what the servers logged so far.
func (c *Chain) Logs() string { return c.logs.String() }

// wait asks addr for name/qtype until it answers with records.
func (c *Chain) wait(t testing.TB, addr, name string, qtype uint16) []dns.RR {
	t.Helper()
	client := &dns.Client{Net: "tcp", Timeout: time.Second}
	q := new(dns.Msg).SetQuestion(dns.Fqdn(name), qtype)
	q.RecursionDesired = true
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, _, err := client.Exchange(q, addr)
		if err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0 {
			return r.Answer
		}
		if time.Now().After(deadline) {
			t.Fatalf("dnssectest: %s does not answer %s %s: %v %v\n%s", addr, name, dns.TypeToString[qtype], err, r, c.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *Chain) writeKnot(port string, zones []Zone) error {
	var b strings.Builder
	fmt.Fprintf(&b, `server:
    rundir: "%[1]s"
    listen: 127.0.0.1@%[2]s
log:
  - target: stderr
    any: warning
database:
    storage: "%[1]s/db"
policy:
  - id: test
    algorithm: ecdsap256sha256
    ksk-lifetime: 0
    zsk-lifetime: 0
template:
  - id: default
    storage: "%[1]s"
    zonefile-sync: -1
zone:
`, c.dir, port)
	for _, z := range zones {
		fmt.Fprintf(&b, "  - domain: %s\n    file: %s.zone\n", z.Name, z.Name)
		if z.Signed || z.Bogus {
			b.WriteString("    dnssec-signing: on\n    dnssec-policy: test\n")
		}
		zone := fmt.Sprintf("$TTL 300\n%[1]s. SOA ns.%[1]s. hostmaster.%[1]s. 1 3600 600 86400 300\n%[1]s. NS ns.%[1]s.\nns.%[1]s. A 127.0.0.1\n%s\n",
			z.Name, strings.Join(z.Records, "\n"))
		if err := os.WriteFile(filepath.Join(c.dir, z.Name+".zone"), []byte(zone), 0o600); err != nil {
			return err
		}
	}
	if err := os.Mkdir(filepath.Join(c.dir, "db"), 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.dir, "knot.conf"), []byte(b.String()), 0o600)
}

func (c *Chain) writeUnbound(port, knotPort string, zones []Zone, anchors map[string]string) error {
	var b strings.Builder
	fmt.Fprintf(&b, `server:
    interface: 127.0.0.1@%s
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "%s"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 1
    val-log-level: 2
    do-not-query-localhost: no
    module-config: "validator iterator"
    cache-max-ttl: 1
    cache-max-negative-ttl: 1
`, port, c.dir)
	seen := map[string]bool{}
	for _, z := range zones {
		// Unbound serves special-use names (RFC 6761: test., ...)
		// itself unless told not to.
		tld := z.Name[strings.LastIndexByte(z.Name, '.')+1:]
		if !seen[tld] {
			fmt.Fprintf(&b, "    local-zone: %q nodefault\n", tld+".")
			seen[tld] = true
		}
		if a, ok := anchors[z.Name]; ok {
			fmt.Fprintf(&b, "    trust-anchor: %q\n", a)
		} else {
			fmt.Fprintf(&b, "    domain-insecure: %q\n", z.Name)
		}
	}
	b.WriteString("remote-control:\n    control-enable: no\n")
	for _, z := range zones {
		fmt.Fprintf(&b, "stub-zone:\n    name: %q\n    stub-addr: 127.0.0.1@%s\n", z.Name, knotPort)
	}
	return os.WriteFile(filepath.Join(c.dir, "unbound.conf"), []byte(b.String()), 0o600)
}

// otherKey is a DNSKEY for zone that signed nothing: a wrong anchor.
func otherKey(t testing.TB, zone string) string {
	t.Helper()
	k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: dns.Fqdn(zone), Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 300},
		Flags: 257, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	if _, err := k.Generate(256); err != nil {
		t.Fatal(err)
	}
	return anchor(k)
}

// anchor is k in the form of Unbound's trust-anchor option.
func anchor(k *dns.DNSKEY) string {
	return fmt.Sprintf("%s IN DNSKEY %d %d %d %s", k.Hdr.Name, k.Flags, k.Protocol, k.Algorithm, k.PublicKey)
}
