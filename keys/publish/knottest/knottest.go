// Package knottest runs Knot DNS (Debian package knot) on loopback for
// tests: an authoritative primary for one zone that accepts dynamic updates
// (RFC 2136) signed with a TSIG key, so that dkimrelay's updates are
// checked by a real server rather than by our own reading of the RFCs.
package knottest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"dkimrelay/internal/testkit"
)

// Package is the Debian package that provides knotd.
const Package = "knot"

// Server is a running knotd. It is stopped when the test ends.
type Server struct {
	// Addr is "127.0.0.1:port", UDP and TCP.
	Addr string
	// Zone is the zone it serves, without the final dot.
	Zone string
	// KeyName, Algorithm and Secret (base64) are the TSIG key allowed
	// to update TXT records under _domainkey and _domainkey.mail of the
	// zone: the least privilege docs/keys.md recommends.
	KeyName, Algorithm, Secret string
	// Dir holds its configuration, zone file and database.
	Dir string

	logs testkit.Output
}

// Start runs knotd for zone with a fresh TSIG key. Without knotd the test
// is skipped, except under CI=true, where that is a failure naming the
// package to install.
func Start(t testing.TB, zone string) *Server {
	t.Helper()
	bin, err := testkit.ServerBinary("knotd", Package)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v: install it with apt-get install %s", err, Package)
		}
		t.Skipf("%v: install it to run this test", err)
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	s := &Server{
		Zone:      strings.TrimSuffix(zone, "."),
		KeyName:   "dkimrelay-test",
		Algorithm: "hmac-sha256",
		Secret:    base64.StdEncoding.EncodeToString(secret),
		Dir:       t.TempDir(),
	}
	port := testkit.FreeUDPAndTCPPort(t)
	s.Addr = net.JoinHostPort("127.0.0.1", port)
	if err := s.writeFiles(port); err != nil {
		t.Fatalf("knottest: %v", err)
	}
	cmd := exec.Command(bin, "-c", filepath.Join(s.Dir, "knot.conf"))
	cmd.Stdout, cmd.Stderr = &s.logs, &s.logs
	p := testkit.StartDaemon(t, "knotd", cmd, s.Logs)
	if err := s.waitReady(p.Exited()); err != nil {
		t.Fatalf("knottest: %v\nknotd log:\n%s", err, s.Logs())
	}
	return s
}

// Logs is what knotd has logged so far.
func (s *Server) Logs() string { return s.logs.String() }

func (s *Server) writeFiles(port string) error {
	conf := fmt.Sprintf(`server:
    rundir: "%[1]s"
    listen: 127.0.0.1@%[2]s
log:
  - target: stderr
    any: info
database:
    storage: "%[1]s/db"
key:
  - id: %[3]s
    algorithm: %[4]s
    secret: %[5]s
acl:
  - id: update
    key: %[3]s
    action: update
    update-type: TXT
    update-owner: name
    update-owner-match: sub
    update-owner-name: [_domainkey, _domainkey.mail]
template:
  - id: default
    storage: "%[1]s"
    zonefile-sync: -1
zone:
  - domain: %[6]s
    file: zone.txt
    acl: update
`, s.Dir, port, s.KeyName, s.Algorithm, s.Secret, s.Zone)
	zone := fmt.Sprintf(`$ORIGIN %s.
$TTL 300
@  SOA ns hostmaster 1 3600 600 86400 300
@  NS  ns
ns A   127.0.0.1
`, s.Zone)
	if err := os.Mkdir(filepath.Join(s.Dir, "db"), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "knot.conf"), []byte(conf), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.Dir, "zone.txt"), []byte(zone), 0o600)
}

// waitReady asks for the zone's SOA until knotd answers it.
func (s *Server) waitReady(exited <-chan struct{}) error {
	c := &dns.Client{Net: "tcp", Timeout: time.Second}
	q := new(dns.Msg).SetQuestion(dns.Fqdn(s.Zone), dns.TypeSOA)
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, _, err := c.Exchange(q, s.Addr)
		if err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0 {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("knotd exited before serving %s", s.Zone)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("knotd does not answer for %s at %s: %v", s.Zone, s.Addr, err)
		}
	}
}

// TXT returns the TXT records at name as knotd serves them, each one's
// strings as they are on the wire; nil if there are none.
func (s *Server) TXT(t testing.TB, name string) [][]string {
	t.Helper()
	c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
	r, _, err := c.Exchange(new(dns.Msg).SetQuestion(dns.Fqdn(name), dns.TypeTXT), s.Addr)
	if err != nil {
		t.Fatalf("knottest: asking for %s: %v", name, err)
	}
	var out [][]string
	for _, rr := range r.Answer {
		if txt, ok := rr.(*dns.TXT); ok {
			out = append(out, txt.Txt)
		}
	}
	return out
}

// WriteSecretFile writes the TSIG secret to a 0600 file in dir, as an
// administrator would, and returns its path.
func (s *Server) WriteSecretFile(t testing.TB, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "tsig.secret")
	if err := os.WriteFile(p, []byte(s.Secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
