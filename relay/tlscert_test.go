package relay

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"dkimrelay/internal/selfsigned"
	"dkimrelay/resolver/dnstest"
)

// needTool finds an external program a test drives. Missing, it skips the
// test on a developer's machine but fails it under CI=true, naming the
// Debian package to install.
func needTool(t *testing.T, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed: apt-get install %s", name, debianPackage)
	}
	t.Skipf("%s is not installed (apt-get install %s)", name, debianPackage)
	return ""
}

// TestTLSOldVersionsRefused: a client that offers only TLS 1.0 or 1.1 is
// refused on the STARTTLS and on the implicit-TLS listener (RFC 8996),
// while TLS 1.2 and 1.3 work. openssl is the client because Go's own
// cannot offer the old versions. GODEBUG=tls10server=1 turns Go's own
// server default back to TLS 1.0, so that only the relay's MinVersion
// stands between the old versions and the relay.
func TestTLSOldVersionsRefused(t *testing.T) {
	openssl := needTool(t, "openssl", "openssl")
	t.Setenv("GODEBUG", "tls10server=1")
	h := newHardRelay(t, dnstest.NewServer(t), hardOptions{})

	listeners := []struct {
		name string
		args []string
	}{
		{"STARTTLS", []string{"-connect", h.Addr(), "-starttls", "smtp"}},
		{"implicit TLS", []string{"-connect", h.TLSAddr()}},
	}
	versions := []struct {
		flag string
		ok   bool
	}{
		{"-tls1", false},
		{"-tls1_1", false},
		{"-tls1_2", true},
		{"-tls1_3", true},
	}
	for _, l := range listeners {
		for _, v := range versions {
			// SECLEVEL=0 lets OpenSSL 3 offer TLS 1.0 and 1.1 at all.
			args := append([]string{"s_client", v.flag, "-cipher", "DEFAULT:@SECLEVEL=0", "-brief"}, l.args...)
			cmd := exec.Command(openssl, args...)
			cmd.Stdin = strings.NewReader("QUIT\r\n")
			out, err := cmd.CombinedOutput()
			established := err == nil && strings.Contains(string(out), "CONNECTION ESTABLISHED")
			if established != v.ok {
				t.Errorf("%s with openssl %s: established = %v, want %v\n%s", l.name, v.flag, established, v.ok, out)
			}
			if !v.ok && !strings.Contains(string(out), "protocol version") {
				t.Errorf("%s with openssl %s: not refused for its version:\n%s", l.name, v.flag, out)
			}
		}
	}
}

// peerCert returns the serial number of the certificate the implicit-TLS
// listener at addr presents.
func peerCert(t *testing.T, addr string) string {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// startTLSCert returns the serial number the STARTTLS listener presents.
func startTLSCert(t *testing.T, addr string) string {
	t.Helper()
	raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(raw)
	readReply := func() string {
		var last string
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("reading reply: %v", err)
			}
			last = l
			if len(l) < 4 || l[3] != '-' {
				return last
			}
		}
	}
	readReply()
	fmt.Fprintf(raw, "EHLO test\r\n")
	readReply()
	fmt.Fprintf(raw, "STARTTLS\r\n")
	if r := readReply(); !strings.HasPrefix(r, "220") {
		t.Fatalf("STARTTLS: %q", r)
	}
	c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// TestTLSCertificateReload: replacing the certificate and key files (as an
// ACME client renewing does) is picked up by the next handshake on both
// listeners, without a restart; a broken renewal keeps the last good
// certificate and is logged; fixing it is picked up again.
func TestTLSCertificateReload(t *testing.T) {
	h := newHardRelay(t, dnstest.NewServer(t), hardOptions{})
	cert, key := h.Config.Submission.TLSCert, h.Config.Submission.TLSKey
	first := peerCert(t, h.TLSAddr())
	if got := startTLSCert(t, h.Addr()); got != first {
		t.Fatalf("the listeners present different certificates: %s and %s", first, got)
	}

	// A renewal: both files replaced by rename.
	if err := selfsigned.Write(cert, key, "renewed.example.net"); err != nil {
		t.Fatal(err)
	}
	second := peerCert(t, h.TLSAddr())
	if second == first {
		t.Fatal("the renewed certificate was not picked up")
	}
	if got := startTLSCert(t, h.Addr()); got != second {
		t.Errorf("STARTTLS presents %s after the renewal, want %s", got, second)
	}

	// A broken renewal: a new certificate whose key never arrives. The
	// last good pair stays in use and the problem is logged once.
	other := t.TempDir()
	if err := selfsigned.Write(other+"/cert.pem", other+"/key.pem", "other.example.net"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(other + "/cert.pem")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cert, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if got := peerCert(t, h.TLSAddr()); got != second {
			t.Fatalf("after a mismatched renewal the relay presents %s, want the last good %s", got, second)
		}
	}
	if ev := h.Logs.Events("tls_reload"); len(ev) != 1 || !strings.Contains(fmt.Sprint(ev[0]["error"]), cert) {
		t.Errorf("tls_reload events for a mismatched pair: %v", ev)
	}

	// The key arrives, but readable by everyone: still refused, and the
	// log names the file.
	kb, err := os.ReadFile(other + "/key.pem")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, kb, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(key, 0o644)
	if got := peerCert(t, h.TLSAddr()); got != second {
		t.Fatalf("a world-readable key was used (%s)", got)
	}
	ev := h.Logs.Events("tls_reload")
	if len(ev) != 2 || !strings.Contains(fmt.Sprint(ev[1]["error"]), key) || !strings.Contains(fmt.Sprint(ev[1]["error"]), "chmod 600") {
		t.Errorf("tls_reload events for a world-readable key: %v", ev)
	}

	// chmod fixes it, and the next handshake uses the new pair.
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}
	third := peerCert(t, h.TLSAddr())
	if third == second || third == first {
		t.Errorf("after chmod 600 the relay presents %s, not the new certificate", third)
	}
}

// TestTLSKeyModeRefusedAtStart: the relay does not start with a TLS key
// every user can read or others can write, and says which file to fix. A
// group-readable key (Debian's ssl-cert convention) is fine.
func TestTLSKeyModeRefusedAtStart(t *testing.T) {
	dns := dnstest.NewServer(t)
	for _, tc := range []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o640, true},
		{0o644, false},
		{0o604, false},
		{0o620, false},
		{0o602, false},
	} {
		t.Run(fmt.Sprintf("%04o", tc.mode), func(t *testing.T) {
			h := prepareHardRelay(t, dns, hardOptions{})
			if err := os.Chmod(h.Config.Submission.TLSKey, tc.mode); err != nil {
				t.Fatal(err)
			}
			r, err := New(h.Config, discardLog())
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				r.closeStores()
				return
			}
			if err == nil {
				r.closeStores()
				t.Fatal("the relay accepted the key")
			}
			if msg := err.Error(); !strings.Contains(msg, h.Config.Submission.TLSKey) || !strings.Contains(msg, "chmod 600") {
				t.Errorf("error does not name the file and the fix: %v", err)
			}
		})
	}
}
