package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestInsecureAuthOffLoopbackRefused: allow_insecure_auth on a plaintext
// listener that is not on loopback would let passwords cross the network
// in the clear; every command refuses the config, naming the listener.
func TestInsecureAuthOffLoopbackRefused(t *testing.T) {
	dir := t.TempDir()
	if r := runCLI(t, "", "init", "--domain", "example.org", "--dir", dir, "--algorithm", "ed25519", "--listen", "0.0.0.0:0"); r.code != exitOK {
		t.Fatalf("init: %d %q", r.code, r.stderr)
	}
	cfg := filepath.Join(dir, "dkimrelay.toml")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), "allow_insecure_auth = false", "allow_insecure_auth = true", 1)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"users", "list"}, {"keys", "list"}} {
		r := runCLI(t, "", append([]string{"--config", cfg}, args...)...)
		if r.code != exitFail || !strings.Contains(r.stderr, "0.0.0.0:0") || !strings.Contains(r.stderr, "allow_insecure_auth") {
			t.Errorf("%v with allow_insecure_auth on 0.0.0.0: exit %d, stderr %q; want exit 1 naming the listener", args, r.code, r.stderr)
		}
	}
}

// TestRootWritesAsDataDirOwner: an administrator runs `users add` and
// `keys generate` as root in a data dir that belongs to the relay's user.
// The files they write must belong to that user too, or the relay (not
// root) cannot read them: its reload of the logins fails and the old
// logins stay valid.
func TestRootWritesAsDataDirOwner(t *testing.T) {
	dir := t.TempDir()
	if r := runCLI(t, "", "init", "--domain", "example.org", "--dir", dir, "--algorithm", "ed25519"); r.code != exitOK {
		t.Fatalf("init: %d %q", r.code, r.stderr)
	}
	cfg := filepath.Join(dir, "dkimrelay.toml")
	data := filepath.Join(dir, "data")
	// The relay's user: nobody when the test runs as root, else the test's
	// own user (then the files are its own whatever the code does).
	uid, gid := os.Geteuid(), os.Getegid()
	if uid == 0 {
		uid, gid = 65534, 65534
		if err := filepath.Walk(data, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, uid, gid)
		}); err != nil {
			t.Fatal(err)
		}
	}
	if r := runCLI(t, "a good long password\n", "--config", cfg, "users", "add", "mastodon", "--allow", "@example.org"); r.code != exitOK {
		t.Fatalf("users add: %d %q", r.code, r.stderr)
	}
	if r := runCLI(t, "", "--config", cfg, "keys", "generate", "--domain", "example.net", "--algorithm", "ed25519"); r.code != exitOK {
		t.Fatalf("keys generate: %d %q", r.code, r.stderr)
	}
	err := filepath.Walk(data, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		if int(st.Uid) != uid || int(st.Gid) != gid {
			t.Errorf("%s belongs to %d:%d, want the data dir's owner %d:%d", p, st.Uid, st.Gid, uid, gid)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
