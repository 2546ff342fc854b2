package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dkimrelay/keys/publish/knottest"
)

// newKnotSetup is a config whose DNS, for lookups and for updates, is a
// real Knot DNS server on loopback holding example.org.
func newKnotSetup(t *testing.T) (*keysSetup, *knottest.Server) {
	t.Helper()
	knot := knottest.Start(t, "example.org")
	secret := knot.WriteSecretFile(t, t.TempDir())
	s := newKeysSetupDNS(t, knot.Addr, fmt.Sprintf(`
[keys.publish]
server = %q
tsig_key_name = %q
tsig_algorithm = %q
tsig_secret_file = %q
ttl = "300s"
`, knot.Addr, knot.KeyName, knot.Algorithm, secret))
	// knotd answers from another process, which a loaded machine may
	// keep waiting longer than the quarter second the in-process DNS
	// server is given: no test here waits for knot to time out.
	b, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.config, bytes.Replace(b, []byte(`timeout = "250ms"`), []byte(`timeout = "3s"`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	return s, knot
}

// served is the record knot serves for selector of example.org, joined;
// "" if none.
func served(t *testing.T, knot *knottest.Server, sel string) string {
	t.Helper()
	txts := knot.TXT(t, sel+"._domainkey.example.org")
	if len(txts) > 1 {
		t.Errorf("knot serves %d records for %s", len(txts), sel)
	}
	if len(txts) == 0 {
		return ""
	}
	return strings.Join(txts[0], "")
}

// TestKeysUnattendedRotation is the cron job with --publish against a real
// authoritative server: two whole rotations with no person involved. With
// --quiet every run must print nothing; without, the transcript is
// testdata/rotate-unattended.txt.
func TestKeysUnattendedRotation(t *testing.T) {
	for _, quiet := range []bool{true, false} {
		t.Run(fmt.Sprintf("quiet=%v", quiet), func(t *testing.T) {
			s, knot := newKnotSetup(t)
			var tr keysTranscript
			step := func(now time.Time, wantStates string, args ...string) {
				t.Helper()
				if quiet && args[0] != "check" {
					args = append(args, "--quiet")
				}
				r := s.cmd(now, args...)
				tr.add(now, args, r)
				if r.code != exitOK {
					t.Fatalf("keys %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
				}
				if quiet && args[0] != "check" && r.stdout+r.stderr != "" {
					t.Errorf("keys %s printed %q %q, want nothing", strings.Join(args, " "), r.stdout, r.stderr)
				}
				if got := s.states(); wantStates != "-" && got != wantStates {
					t.Errorf("keys %s: keys %q, want %q", strings.Join(args, " "), got, wantStates)
				}
			}
			// cron is the daily job; wantStates is the keys after it.
			cron := func(now time.Time, wantStates string) {
				t.Helper()
				step(now, "-", "rotate", "--domain", "example.org", "--algorithm", "ed25519", "--publish")
				step(now, wantStates, "prune", "--publish")
			}

			tr.comment("Day 1: the first run makes a key and publishes its record.")
			cron(keysT0, "s202611e:pending")
			if got, want := served(t, knot, "s202611e"), s.recordValue("s202611e"); got != want {
				t.Fatalf("after rotate --publish, knot serves %q, want %q", got, want)
			}
			tr.comment("Day 2: DNS serves it, so the run activates it.")
			cron(keysT0.Add(keysDay), "s202611e:active")
			step(keysT0.Add(keysDay), "s202611e:active", "check", "--domain", "example.org")
			tr.comment("Day 3 to day 91: nothing to do.")
			cron(keysT0.Add(2*keysDay), "s202611e:active")

			tr.comment("Day 92: the key has signed for keys.rotate_after (90 days): a new one.")
			due := keysT0.Add(91 * keysDay)
			cron(due, "s202611e:active s202702e:pending")
			if served(t, knot, "s202702e") == "" {
				t.Fatal("the new key's record was not published")
			}
			tr.comment("Day 93: the new key signs, the old one retires.")
			cron(due.Add(keysDay), "s202611e:retiring s202702e:active")
			tr.comment("Day 100: the old key is pruned and its record deleted.")
			cron(due.Add(8*keysDay), "s202702e:active")
			if got := served(t, knot, "s202611e"); got != "" {
				t.Errorf("pruned key's record still served: %q", got)
			}
			if got, want := served(t, knot, "s202702e"), s.recordValue("s202702e"); got != want {
				t.Errorf("active key's record: knot serves %q, want %q", got, want)
			}
			if !quiet {
				keysGolden(t, "rotate-unattended.txt", tr.b.String())
			}
		})
	}
}

// TestKeysPublishCommands covers generate and remove with --publish, and
// the failures an administrator must hear about even with --quiet.
func TestKeysPublishCommands(t *testing.T) {
	s, knot := newKnotSetup(t)

	r := s.cmd(keysT0, "generate", "--domain", "example.org", "--algorithm", "ed25519", "--selector", "g1", "--publish")
	if r.code != exitOK || !strings.Contains(r.stdout, "published its DNS record at 127.0.0.1:53") {
		t.Fatalf("generate --publish: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got, want := served(t, knot, "g1"), s.recordValue("g1"); got != want {
		t.Errorf("after generate --publish, knot serves %q, want %q", got, want)
	}
	r = s.cmd(keysT0, "remove", "--domain", "example.org", "--selector", "g1", "--publish")
	if r.code != exitOK || !strings.Contains(r.stdout, "Deleted its DNS record") {
		t.Fatalf("remove --publish: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := served(t, knot, "g1"); got != "" || s.states() != "" {
		t.Errorf("after remove --publish: knot serves %q, keys %q", got, s.states())
	}

	// A wrong secret: the key is made, the record printed for a person,
	// exit 1 — also with --quiet, since cron must mail this.
	cfg, _ := os.ReadFile(s.config)
	secretFile := filepath.Join(t.TempDir(), "wrong.secret")
	os.WriteFile(secretFile, []byte("d3Jvbmd3cm9uZ3dyb25nd3Jvbmc=\n"), 0o600)
	wrong := strings.Replace(string(cfg), "tsig_secret_file = ", "tsig_secret_file = \""+secretFile+"\"\n# was: ", 1)
	if err := os.WriteFile(s.config, []byte(wrong), 0o600); err != nil {
		t.Fatal(err)
	}
	rotate := []string{"rotate", "--domain", "example.org", "--algorithm", "ed25519", "--publish", "--quiet"}
	r = s.cmd(keysT0, rotate...)
	var tr keysTranscript
	tr.add(keysT0, rotate, r)
	keysGolden(t, "publish-failure.txt", tr.b.String())
	if r.code != exitFail || !strings.Contains(r.stdout, "publishing its DNS record failed") ||
		!strings.Contains(r.stdout, "s202611e._domainkey.example.org. IN TXT") || !strings.Contains(r.stderr, "does not accept TSIG key dkimrelay-test") {
		t.Errorf("rotate with a wrong secret: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if s.states() != "s202611e:pending" || served(t, knot, "s202611e") != "" {
		t.Errorf("after a refused update: keys %q, knot serves %q", s.states(), served(t, knot, "s202611e"))
	}
	// Fixed: the next run publishes the pending key's record, silently.
	if err := os.WriteFile(s.config, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	r = s.cmd(keysT0.Add(time.Hour), rotate...)
	if r.code != exitOK || r.stdout+r.stderr != "" {
		t.Errorf("rotate after fixing the secret: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if got, want := served(t, knot, "s202611e"), s.recordValue("s202611e"); got != want {
		t.Errorf("after fixing the secret, knot serves %q, want %q", got, want)
	}

	// A secret file others can read is refused before anything changes.
	os.Chmod(knotSecretPath(t, s), 0o644)
	before := s.states()
	r = s.cmd(keysT0, "generate", "--domain", "example.org", "--algorithm", "ed25519", "--publish")
	if r.code != exitFail || !strings.Contains(r.stderr, "chmod 600") || s.states() != before {
		t.Errorf("world-readable secret: exit %d %q, keys %q", r.code, r.stderr, s.states())
	}
	if strings.Contains(r.stdout+r.stderr, knot.Secret) {
		t.Error("an error shows the TSIG secret")
	}
}

// knotSecretPath is the tsig_secret_file of the setup's config.
func knotSecretPath(t *testing.T, s *keysSetup) string {
	t.Helper()
	b, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "tsig_secret_file = "); ok {
			return strings.Trim(v, `"`)
		}
	}
	t.Fatal("no tsig_secret_file in the config")
	return ""
}
