package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	t.Setenv("DKIMRELAY_CONFIG", "")
	code := run(&env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}, args)
	return result{code, out.String(), errb.String()}
}

func TestUsageErrors(t *testing.T) {
	cases := [][]string{
		{},
		{"frobnicate"},
		{"users"},
		{"users", "add"},
		{"users", "add", "name"},
		{"keys", "generate"},
		{"keys", "activate", "--domain", "example.org"},
		{"init"},
		{"init", "--domain", "example.org", "--algorithm", "dsa"},
		{"version", "extra"},
		{"serve", "--bogus"},
	}
	for _, args := range cases {
		r := runCLI(t, "", args...)
		if r.code != exitUsage {
			t.Errorf("%q: exit %d, want %d (stderr %q)", args, r.code, exitUsage, r.stderr)
		}
	}
}

func TestMissingConfig(t *testing.T) {
	r := runCLI(t, "", "--config", filepath.Join(t.TempDir(), "none.toml"), "users", "list")
	if r.code != exitFail || !strings.Contains(r.stderr, "dkimrelay init") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// The administrator's first steps, as the README gives them.
func TestInitUsersKeys(t *testing.T) {
	dir := t.TempDir()
	r := runCLI(t, "", "init", "--domain", "example.org", "--dir", dir, "--algorithm", "ed25519")
	if r.code != exitOK || !strings.Contains(r.stdout, "_domainkey.example.org.") {
		t.Fatalf("init: %d %q %q", r.code, r.stdout, r.stderr)
	}
	cfg := filepath.Join(dir, "dkimrelay.toml")
	r = runCLI(t, "", "init", "--domain", "example.org", "--dir", dir)
	if r.code != exitFail || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("second init: %d %q", r.code, r.stderr)
	}

	r = runCLI(t, "a good long password\n", "users", "add", "mastodon", "--config", cfg, "--allow", "notifications@example.org")
	if r.code != exitOK || strings.Contains(r.stdout+r.stderr, "a good long password") {
		t.Fatalf("users add: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, "", "--config", cfg, "users", "add", "bot", "--allow", "@example.org", "--generate")
	if r.code != exitOK || !strings.Contains(r.stdout, "Password (shown once): ") {
		t.Fatalf("users add --generate: %d %q", r.code, r.stdout)
	}
	r = runCLI(t, "", "--config", cfg, "users", "add", "nopw", "--allow", "@example.org")
	if r.code != exitFail || !strings.Contains(r.stderr, "--generate") {
		t.Errorf("users add without a password: %d %q", r.code, r.stderr)
	}
	r = runCLI(t, "", "--config", cfg, "users", "list")
	if r.code != exitOK || !strings.Contains(r.stdout, "mastodon") || !strings.Contains(r.stdout, "notifications@example.org") || strings.Contains(r.stdout, "argon2") {
		t.Errorf("users list: %q", r.stdout)
	}
	r = runCLI(t, "", "--config", cfg, "users", "remove", "bot")
	if r.code != exitOK {
		t.Errorf("users remove: %q", r.stderr)
	}
	r = runCLI(t, "", "--config", cfg, "users", "remove", "bot")
	if r.code != exitFail {
		t.Errorf("removing a missing login: exit %d", r.code)
	}

	r = runCLI(t, "", "--config", cfg, "keys", "list", "--json")
	var list []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 1 || list[0]["state"] != "pending" {
		t.Fatalf("keys list --json: %v %q", err, r.stdout)
	}
	sel := list[0]["selector"].(string)
	r = runCLI(t, "", "--config", cfg, "keys", "dns", "--domain", "example.org", "--selector", sel, "--value")
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "v=DKIM1; k=ed25519; p=") {
		t.Errorf("keys dns --value: %q", r.stdout)
	}
	r = runCLI(t, "", "--config", cfg, "version")
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "dkimrelay ") {
		t.Errorf("version: %q", r.stdout)
	}
}
