package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dkimrelay/internal/testkit"
	"dkimrelay/keys"
)

// TestVerify runs `dkimrelay verify` against the config's DNS server: a
// message that passes exits 0, one modified in transit exits 1 and says
// so, and --offline takes the key from the store instead of DNS.
func TestVerify(t *testing.T) {
	s := newKeysSetup(t, "")
	st := s.store()
	k, err := st.Generate("example.org", keys.Ed25519, "v1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s.publish("v1")
	s.dns.Add(`example.org. 300 IN TXT "v=spf1 ip4:192.0.2.10 -all"`, `_dmarc.example.org. 300 IN TXT "v=DMARC1; p=quarantine"`)
	msg := "Return-Path: <notifications@example.org>\r\n" +
		testkit.Sign(t, "From: notifications@example.org\r\nTo: alice@example.net\r\nSubject: hi\r\n\r\nHello.\r\n", k.DKIM())
	file := filepath.Join(s.dir, "received.eml")
	if err := os.WriteFile(file, []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}

	r := runCLI(t, "", "--config", s.config, "verify", "--ip", "192.0.2.10", file)
	if r.code != exitOK || !strings.Contains(r.stdout, "DKIM   pass    d=example.org s=v1") || !strings.Contains(r.stdout, "SPF    pass") || !strings.Contains(r.stdout, "DMARC  pass") {
		t.Errorf("verify of a good message: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	tampered := strings.Replace(msg, "Hello.", "Hello, from the list.", 1)
	r = runCLI(t, tampered, "--config", s.config, "verify", "-", "--ip", "192.0.2.10")
	if r.code != exitFail || !strings.Contains(r.stdout, "body-modified: the body was modified in transit") || !strings.Contains(r.stderr, "a check failed") {
		t.Errorf("verify of a modified message: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Offline: the key is withdrawn from DNS, the store still has it.
	other := newKeysSetup(t, "")
	r = runCLI(t, "", "--config", s.config, "verify", "--offline", file)
	if r.code != exitOK || !strings.Contains(r.stdout, "DKIM   pass") || !strings.Contains(r.stdout, "SPF    skipped") {
		t.Errorf("verify --offline: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, "", "--config", other.config, "verify", "--ip", "192.0.2.10", file)
	if r.code != exitFail || !strings.Contains(r.stdout, "selector-not-published") {
		t.Errorf("verify against DNS without the key: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	for _, args := range [][]string{{"verify"}, {"verify", "a", "b"}, {"verify", "--ip", "nonsense", file}} {
		if r := runCLI(t, "", append([]string{"--config", s.config}, args...)...); r.code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, r.code, exitUsage)
		}
	}
}
