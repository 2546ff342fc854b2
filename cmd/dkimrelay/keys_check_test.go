package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// quoteSplit writes value as a TXT record's strings, cut at the given
// byte offsets: DKIM verifiers join the strings whatever the cuts (RFC
// 6376 section 3.6.2.2).
func quoteSplit(value string, cuts ...int) string {
	var parts []string
	prev := 0
	for _, c := range append(cuts, len(value)) {
		parts = append(parts, fmt.Sprintf("%q", value[prev:c]))
		prev = c
	}
	return strings.Join(parts, " ")
}

func (s *keysSetup) recordValue(sel string) string {
	s.t.Helper()
	v, err := s.key(sel).RecordValue()
	if err != nil {
		s.t.Fatal(err)
	}
	return v
}

// TestKeysCheck asks a DNS server on loopback about one key in each
// situation DNS can be in; the table is testdata/check.txt.
func TestKeysCheck(t *testing.T) {
	s := newKeysSetup(t, "")
	st := s.store()
	gen := func(sel, alg string) {
		if _, err := st.Generate("example.org", keyAlg(t, alg), sel, keysT0); err != nil {
			t.Fatal(err)
		}
	}
	activate := func(sel string, at time.Time) {
		if _, _, err := st.Activate("example.org", sel, at); err != nil {
			t.Fatal(err)
		}
	}
	name := func(sel string) string { return sel + "._domainkey.example.org." }
	// Retiring keys and other domains' keys are not checked.
	gen("retired", "ed25519")
	activate("retired", keysT0)
	if _, err := st.Generate("example.net", keyAlg(t, "ed25519"), "elsewhere", keysT0); err != nil {
		t.Fatal(err)
	}

	gen("active", "ed25519")
	activate("active", keysT0.Add(time.Hour))
	s.publish("active")

	gen("split", "rsa2048")
	s.dns.Add(name("split") + " TXT " + quoteSplit(s.recordValue("split"), 3, 100, 101, 356))

	gen("missing", "ed25519")

	gen("other", "ed25519")
	s.dns.Add(name("other") + ` TXT "` + otherKey + `"`)

	gen("beside", "ed25519")
	s.dns.Add(name("beside")+` TXT "google-site-verification=abc123"`, name("beside")+` TXT "`+s.recordValue("beside")+`"`)

	gen("twice", "ed25519")
	s.dns.Add(name("twice")+` TXT "`+s.recordValue("twice")+`"`, name("twice")+` TXT "`+otherKey+`"`)

	gen("revoked", "ed25519")
	s.dns.Add(name("revoked") + ` TXT "v=DKIM1; k=ed25519; p="`)

	gen("servfail", "ed25519")
	s.dns.SetServfail(name("servfail"))

	gen("timeout", "ed25519")
	s.dns.SetDrop(name("timeout"))

	var tr keysTranscript
	args := []string{"check", "--domain", "example.org"}
	r := s.cmd(keysT0, args...)
	tr.add(keysT0, args, r)
	if r.code != exitFail {
		t.Errorf("exit %d, want 1", r.code)
	}
	want := map[string]string{
		"active": "published", "split": "published", "beside": "published",
		"missing": "missing", "other": "different", "twice": "different",
		"revoked": "revoked", "servfail": "dns-error", "timeout": "dns-error",
	}
	args = append(args, "--json")
	rj := s.cmd(keysT0, args...)
	tr.add(keysT0, args, rj)
	var got []checkJSON
	if err := json.Unmarshal([]byte(rj.stdout), &got); err != nil {
		t.Fatalf("--json: %v\n%s", err, rj.stdout)
	}
	if len(got) != len(want) {
		t.Errorf("%d keys checked, want %d", len(got), len(want))
	}
	for _, c := range got {
		if want[c.Selector] != c.DNS {
			t.Errorf("%s: %s (%s), want %s", c.Selector, c.DNS, c.Detail, want[c.Selector])
		}
	}
	keysGolden(t, "check.txt", tr.b.String())
}

func TestKeysCheckOutcomes(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(s *keysSetup)
		code   int
		stderr string
	}{
		{"no keys", func(s *keysSetup) {}, 1, "has no pending or active key to check: make one with `dkimrelay keys generate --domain example.org`"},
		{"all published", func(s *keysSetup) {
			s.cmd(keysT0, "generate", "--domain", "example.org", "--algorithm", "ed25519", "--selector", "a")
			s.publish("a")
		}, 0, ""},
		{"only DNS failures", func(s *keysSetup) {
			s.cmd(keysT0, "generate", "--domain", "example.org", "--algorithm", "ed25519", "--selector", "a")
			s.dns.SetServfail("a._domainkey.example.org")
		}, 1, "DNS could not be asked about the key of example.org: try again later"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newKeysSetup(t, "")
			tc.setup(s)
			r := s.cmd(keysT0, "check", "--domain", "example.org")
			if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) || (tc.stderr == "" && r.stderr != "") {
				t.Errorf("exit %d, stderr %q; want %d, %q", r.code, r.stderr, tc.code, tc.stderr)
			}
		})
	}
	s := newKeysSetup(t, "")
	if r := s.cmd(keysT0, "check"); r.code != exitUsage {
		t.Errorf("check without --domain: exit %d", r.code)
	}
}
