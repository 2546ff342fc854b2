package relay

// Files and processes: the data dir and what holds secrets are
// private to the relay's user, and the relay will not start on (or sign
// with) a secret that others can read, naming the file to fix.

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dkimrelay/internal/testkit"
	"dkimrelay/resolver/dnstest"
)

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestDataDirModes: a relay started on a fresh data dir makes it and its
// queue and key folders 0700, the control socket, logins and keys 0600.
func TestDataDirModes(t *testing.T) {
	dns := dnstest.NewServer(t)
	h := prepareHardRelay(t, dns, hardOptions{})
	// Start from nothing but the config: the relay makes the data dir.
	if err := os.RemoveAll(h.Config.DataDir); err != nil {
		t.Fatal(err)
	}
	h.Start()
	for _, d := range []string{h.Config.DataDir, h.Config.QueueDir(), h.Config.KeysDir()} {
		if m := mode(t, d); m != 0o700 {
			t.Errorf("%s has mode %04o, want 0700", d, m)
		}
	}
	if m := mode(t, h.Config.ControlSocket()); m&0o077 != 0 {
		t.Errorf("the control socket has mode %04o: others may drive the relay", m)
	}
	// The files a running relay's users and keys commands write.
	h2 := prepareHardRelay(t, dns, hardOptions{})
	paths := []string{h2.Config.UsersFile()}
	pems, _ := filepath.Glob(filepath.Join(h2.Config.KeysDir(), hardDomain, "*.pem"))
	paths = append(paths, pems...)
	for _, p := range paths {
		if m := mode(t, p); m != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", p, m)
		}
	}
}

// TestSecretFilesRefused: the relay refuses to start on a logins file or a
// smarthost password file that others can read, naming the file and the
// chmod that fixes it.
func TestSecretFilesRefused(t *testing.T) {
	dns := dnstest.NewServer(t)
	t.Run("users file", func(t *testing.T) {
		h := prepareHardRelay(t, dns, hardOptions{})
		if err := os.Chmod(h.Config.UsersFile(), 0o644); err != nil {
			t.Fatal(err)
		}
		checkRefused(t, h, h.Config.UsersFile())
	})
	t.Run("smarthost password file", func(t *testing.T) {
		pw := filepath.Join(t.TempDir(), "smarthost.pw")
		if err := os.WriteFile(pw, []byte("secret\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		h := prepareHardRelay(t, dns, hardOptions{delivery: fmt.Sprintf("mode = \"smarthost\"\nsmarthost = \"127.0.0.2:465\"\nsmarthost_user = \"u\"\nsmarthost_password_file = %q", pw)})
		checkRefused(t, h, pw)
		// The same file private: the relay starts.
		if err := os.Chmod(pw, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := New(h.Config, discardLog())
		if err != nil {
			t.Fatalf("with the password file 0600: %v", err)
		}
		r.closeStores()
	})
}

func checkRefused(t *testing.T, h *hardRelay, path string) {
	t.Helper()
	r, err := New(h.Config, discardLog())
	if err == nil {
		r.closeStores()
		t.Fatalf("the relay started with %s readable by others", path)
	}
	if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "chmod 600 "+path) {
		t.Errorf("the error does not name %s and the fix: %v", path, err)
	}
}

// TestReadableDKIMKeyNotUsed: a DKIM private key others can read is not
// signed with: the relay logs key_damaged naming the file and the fix,
// keeps running, and refuses mail from the domain until it is fixed and
// reloaded, rather than sign with a key that may be compromised.
func TestReadableDKIMKeyNotUsed(t *testing.T) {
	dns := dnstest.NewServer(t)
	h := prepareHardRelay(t, dns, hardOptions{})
	pems, _ := filepath.Glob(filepath.Join(h.Config.KeysDir(), hardDomain, "*.pem"))
	if len(pems) != 1 {
		t.Fatalf("keys: %v", pems)
	}
	if err := os.Chmod(pems[0], 0o644); err != nil {
		t.Fatal(err)
	}
	h.Start()
	ev := h.WaitEvent("key_damaged", 0, nil)
	if e := fmt.Sprint(ev["error"]); !strings.Contains(e, pems[0]) || !strings.Contains(e, "chmod 600") {
		t.Errorf("key_damaged event does not name the file and the fix: %v", ev)
	}
	_, se := hardSend(t, h.Addr(), []string{"someone@good.test"}, hardMessage("readable", "someone@good.test"))
	if se == nil || se.Code != 550 || !strings.Contains(se.Message, "no active DKIM key") {
		t.Fatalf("mail signed with a readable key? %v", se)
	}
	if err := os.Chmod(pems[0], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.Daemon.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, se := hardSend(t, h.Addr(), []string{"someone@good.test"}, hardMessage("fixed", "someone@good.test")); se != nil {
		t.Errorf("after chmod 600 and a reload: %v", se)
	}
}

// TestRootWarning: started as root, the relay says in its log that it
// should not run as root; started as anyone else, it does not.
func TestRootWarning(t *testing.T) {
	h := prepareHardRelay(t, dnstest.NewServer(t), hardOptions{})
	logs := testkit.NewLogs(t)
	r, err := New(h.Config, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	r.closeStores()
	warned := len(logs.Events("running_as_root")) == 1
	if root := os.Geteuid() == 0; warned != root {
		t.Errorf("running as root: %v; warned: %v", root, warned)
	}
}

// TestDataDirPermissionsWarning: a data dir others may enter or list is
// named in the log with the chmod that fixes it; a 0700 one is not.
func TestDataDirPermissionsWarning(t *testing.T) {
	h := prepareHardRelay(t, dnstest.NewServer(t), hardOptions{})
	for _, tc := range []struct {
		mode os.FileMode
		warn bool
	}{{0o755, true}, {0o750, true}, {0o700, false}} {
		if err := os.Chmod(h.Config.DataDir, tc.mode); err != nil {
			t.Fatal(err)
		}
		logs := testkit.NewLogs(t)
		r, err := New(h.Config, slog.New(slog.NewJSONHandler(logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		r.closeStores()
		evs := logs.Events("data_dir_permissions")
		if (len(evs) == 1) != tc.warn {
			t.Fatalf("mode %04o: events %v, want a warning: %v", tc.mode, evs, tc.warn)
		}
		if tc.warn && !strings.Contains(fmt.Sprint(evs[0]["detail"]), "chmod 700 "+h.Config.DataDir) {
			t.Errorf("mode %04o: the warning does not give the fix: %v", tc.mode, evs[0])
		}
	}
}
