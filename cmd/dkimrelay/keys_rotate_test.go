package main

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// TestKeysRotateRunbook walks a domain through two rotations by hand, as
// the runbook in docs/keys.md shows them; the transcript is the golden
// file testdata/rotate-manual.txt. Each step also checks the store.
func TestKeysRotateRunbook(t *testing.T) {
	s := newKeysSetup(t, "")
	var tr keysTranscript
	step := func(now time.Time, wantCode int, wantStates string, args ...string) result {
		t.Helper()
		r := s.cmd(now, args...)
		tr.add(now, args, r)
		if r.code != wantCode {
			t.Errorf("keys %s: exit %d, want %d\n%s%s", strings.Join(args, " "), r.code, wantCode, r.stdout, r.stderr)
		}
		if got := s.states(); got != wantStates {
			t.Errorf("keys %s: keys are %q, want %q", strings.Join(args, " "), got, wantStates)
		}
		return r
	}
	quiet := func(now time.Time, wantStates string, args ...string) {
		t.Helper()
		r := step(now, 0, wantStates, args...)
		if r.stdout != "" || r.stderr != "" {
			t.Errorf("keys %s printed %q %q, want nothing", strings.Join(args, " "), r.stdout, r.stderr)
		}
	}
	rotate := []string{"rotate", "--domain", "example.org"}
	rotateQuiet := append(rotate[:3:3], "--quiet")

	tr.comment("A new domain: the first run makes a key and prints its record.")
	step(keysT0, 0, "s202611r:pending", rotate...)
	tr.comment("Until DNS serves the record, every run says so, even with --quiet.")
	r := step(keysT0.Add(time.Hour), 0, "s202611r:pending", rotateQuiet...)
	if !strings.Contains(r.stdout, "s202611r._domainkey.example.org. IN TXT") {
		t.Errorf("--quiet with a record to publish did not print it: %q", r.stdout)
	}
	step(keysT0.Add(time.Hour), 1, "s202611r:pending", "check", "--domain", "example.org")

	s.publish("s202611r")
	tr.comment("The record is published: check agrees, and the next run activates the key.")
	step(keysT0.Add(2*time.Hour), 0, "s202611r:pending", "check", "--domain", "example.org")
	step(keysT0.Add(2*time.Hour), 0, "s202611r:active", rotate...)
	tr.comment("From now on the daily run has nothing to do; with --quiet it prints nothing.")
	step(keysT0.Add(keysDay), 0, "s202611r:active", rotate...)
	quiet(keysT0.Add(89*keysDay), "s202611r:active", rotateQuiet...)

	tr.comment("90 days after activation (keys.rotate_after), the run starts the next rotation.")
	activated := keysT0.Add(2 * time.Hour)
	due := activated.Add(90 * keysDay)
	step(due, 0, "s202611r:active s202702r:pending", rotateQuiet...)
	step(due, 1, "s202611r:active s202702r:pending", "check", "--domain", "example.org")
	s.publish("s202702r")
	tr.comment("Published the same day; the next day's run switches keys.")
	step(due.Add(keysDay), 0, "s202611r:retiring s202702r:active", rotate...)
	quiet(due.Add(keysDay+time.Hour), "s202611r:retiring s202702r:active", rotateQuiet...)

	tr.comment("The old key stays in DNS for keys.retire_after (7 days), then prune removes it.")
	step(due.Add(2*keysDay), 0, "s202611r:retiring s202702r:active", "prune")
	quiet(due.Add(2*keysDay), "s202611r:retiring s202702r:active", "prune", "--quiet")
	r = step(due.Add(8*keysDay), 0, "s202702r:active", "prune", "--quiet")
	if !strings.Contains(r.stdout, "s202611r._domainkey.example.org. IN TXT") {
		t.Errorf("prune --quiet did not print the record to delete: %q", r.stdout)
	}
	quiet(due.Add(9*keysDay), "s202702r:active", "prune", "--quiet")

	keysGolden(t, "rotate-manual.txt", tr.b.String())
}

// TestKeysRotateSituations covers what the runbook does not: every other
// situation rotate can meet, with its exit code and what it must say.
func TestKeysRotateSituations(t *testing.T) {
	type fixture func(s *keysSetup)
	gen := func(sel, alg string, at time.Time) fixture {
		return func(s *keysSetup) {
			if _, err := s.store().Generate("example.org", keyAlg(t, alg), sel, at); err != nil {
				t.Fatal(err)
			}
		}
	}
	activate := func(sel string, at time.Time) fixture {
		return func(s *keysSetup) {
			if _, _, err := s.store().Activate("example.org", sel, at); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish := func(sel string) fixture { return func(s *keysSetup) { s.publish(sel) } }
	servfail := func(sel string) fixture {
		return func(s *keysSetup) { s.dns.SetServfail(sel + "._domainkey.example.org") }
	}
	otherKeyAt := func(sel string) fixture {
		return func(s *keysSetup) { s.dns.Add(sel + "._domainkey.example.org. TXT \"" + otherKey + "\"") }
	}
	young := keysT0.Add(10 * keysDay)
	cases := []struct {
		name   string
		extra  string
		setup  []fixture
		args   []string
		code   int
		states string
		stdout []string // phrases of stdout; nil: empty
		stderr string   // phrase of stderr
	}{
		{
			name:  "ed25519 key started by hand with --now",
			setup: []fixture{gen("a", "ed25519", keysT0), activate("a", keysT0)},
			args:  []string{"--domain", "example.org", "--now"}, states: "a:active s202611e:pending",
			stdout: []string{"Started a rotation for example.org (ed25519): --now was given (key a signs since 2026-11-15 10:00 UTC)", "s202611e._domainkey.example.org. IN TXT \"v=DKIM1; k=ed25519; p=<public key>\""},
		},
		{
			name:  "upgrade to rsa3072 asked while rsa2048 signs",
			setup: []fixture{gen("a", "rsa2048", keysT0), activate("a", keysT0)},
			args:  []string{"--domain", "example.org", "--algorithm", "rsa3072", "--quiet"}, states: "a:active s202611r:pending",
			stdout: []string{"Generated rsa3072 key s202611r for example.org (pending)"},
		},
		{
			name:  "rotate_after from the config",
			extra: "[keys]\nrotate_after = \"240h\"\n",
			setup: []fixture{gen("a", "ed25519", keysT0), activate("a", keysT0)},
			args:  []string{"--domain", "example.org"}, states: "a:active s202611e:pending",
			stdout: []string{"key a has signed since 2026-11-15 10:00 UTC, longer than keys.rotate_after (10 days)"},
		},
		{
			name:  "both key types: each takes its own step",
			setup: []fixture{gen("a", "rsa2048", keysT0), activate("a", keysT0), gen("b", "ed25519", keysT0), activate("b", keysT0), gen("c", "ed25519", young), publish("c")},
			args:  []string{"--domain", "example.org"}, states: "a:active b:retiring c:active",
			stdout: []string{"Nothing to do for example.org (rsa)", "Activated key c (ed25519)", "Key b is retiring"},
		},
		{
			name:  "pending key with SERVFAIL: exit 1, even with --quiet",
			setup: []fixture{gen("a", "ed25519", keysT0), activate("a", keysT0), gen("n", "ed25519", young), servfail("n")},
			args:  []string{"--domain", "example.org", "--quiet"}, code: 1, states: "a:active n:pending",
			stderr: "could not ask DNS about pending key n of example.org",
		},
		{
			name:  "another key at the pending key's name: waiting, with the record",
			setup: []fixture{gen("a", "ed25519", keysT0), activate("a", keysT0), gen("n", "ed25519", young), otherKeyAt("n")},
			args:  []string{"--domain", "example.org", "--quiet"}, states: "a:active n:pending",
			stdout: []string{"Key n for example.org is pending, but DNS does not serve it yet (the record at n._domainkey.example.org holds a different public key)", "n._domainkey.example.org. IN TXT"},
		},
		{
			name:  "stale pending key: a note, not an activation",
			setup: []fixture{gen("old", "ed25519", keysT0.Add(-keysDay)), gen("a", "ed25519", keysT0), activate("a", keysT0), publish("old")},
			args:  []string{"--domain", "example.org"}, states: "a:active old:pending",
			stdout: []string{"Note: pending key old of example.org is older than the key that signs", "keys remove --domain example.org --selector old", "Nothing to do"},
		},
		{
			name: "domain not in the config: a warning",
			args: []string{"--domain", "example.net", "--algorithm", "ed25519", "--quiet"}, states: "",
			stdout: []string{"Generated ed25519 key s202611e for example.net"}, stderr: "example.net is not in the config's [[domains]]",
		},
		{
			name: "--publish without [keys.publish]",
			args: []string{"--domain", "example.org", "--publish"}, code: 1,
			stderr: "--publish needs a [keys.publish] table",
		},
		{name: "no --domain", args: []string{"--quiet"}, code: 2, stderr: "keys rotate needs --domain"},
		{name: "bad algorithm", args: []string{"--domain", "example.org", "--algorithm", "dsa"}, code: 2, stderr: "unknown key algorithm"},
		{name: "stray argument", args: []string{"--domain", "example.org", "now"}, code: 2, stderr: "takes no arguments"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newKeysSetup(t, tc.extra)
			for _, f := range tc.setup {
				f(s)
			}
			r := s.cmd(young, append([]string{"rotate"}, tc.args...)...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\n%s%s", r.code, tc.code, r.stdout, r.stderr)
			}
			if tc.stdout == nil && r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout does not say %q:\n%s", w, r.stdout)
				}
			}
			if tc.stderr == "" && r.stderr != "" || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("stderr %q, want %q", r.stderr, tc.stderr)
			}
			if tc.states != "" {
				if got := s.states(); got != tc.states {
					t.Errorf("keys are %q, want %q", got, tc.states)
				}
			}
		})
	}
}

// TestKeysRotateRacing runs rotate from several goroutines at once on one
// store, as two overlapping cron jobs would: one key, and a sound store.
func TestKeysRotateRacing(t *testing.T) {
	s := newKeysSetup(t, "")
	const n = 4
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() {
			codes[i] = s.cmd(keysT0, "rotate", "--domain", "example.org", "--algorithm", "ed25519", "--quiet").code
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != exitOK {
			t.Errorf("rotate %d: exit %d", i, c)
		}
	}
	if got := s.states(); got != "s202611e:pending" {
		t.Errorf("after racing rotations: keys %q, want one pending key", got)
	}
}
