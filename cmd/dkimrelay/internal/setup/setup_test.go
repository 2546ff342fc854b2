package setup

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dkimrelay/config"
	"dkimrelay/keys"
	"dkimrelay/users"
)

func TestInit(t *testing.T) {
	dir := t.TempDir()
	res, err := Init(Options{Dir: dir, Domain: "Example.ORG", Algorithm: keys.Ed25519, Now: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(dir, ConfigName))
	if err != nil {
		t.Fatalf("init wrote a config that does not load: %v", err)
	}
	if cfg.Hostname != "mail.example.org" || !cfg.HasDomain("example.org") || cfg.Log.File != filepath.Join(dir, "dkimrelay.log") {
		t.Errorf("config: hostname %q, domains %v, log %q", cfg.Hostname, cfg.Domains, cfg.Log.File)
	}
	for path, mode := range map[string]os.FileMode{cfg.Submission.TLSKey: 0o600, cfg.DataDir: 0o700} {
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v (want %o), %v", path, st.Mode().Perm(), mode, err)
		}
	}
	if res.Key.State != keys.Pending || res.Key.Selector != "s202611e" {
		t.Errorf("first key %s is %s, want pending s202611e", res.Key.Selector, res.Key.State)
	}
	var out bytes.Buffer
	if err := res.WriteSummary(&out); err != nil {
		t.Fatal(err)
	}
	value, _ := res.Key.RecordValue()
	for _, want := range []string{"s202611e._domainkey.example.org.", value[len(value)-20:], "_dmarc.example.org.", "keys activate --domain example.org --selector s202611e",
		"SMTP_SERVER=127.0.0.1", "SMTP_PORT=587", "SMTP_OPENSSL_VERIFY_MODE=none", "SMTP_FROM_ADDRESS=notifications@example.org"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	if _, err := Init(Options{Dir: dir, Domain: "example.org", Algorithm: keys.Ed25519}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second init: %v", err)
	}
}

func TestInitRefusesBadInput(t *testing.T) {
	for _, o := range []Options{
		{Domain: ""},
		{Domain: "bad domain"},
		{Domain: "example.org", Listen: "nonsense"},
	} {
		o.Dir = t.TempDir()
		o.Algorithm = keys.Ed25519
		if _, err := Init(o); err == nil {
			t.Errorf("Init(%+v) succeeded", o)
		}
		if _, err := os.Stat(filepath.Join(o.Dir, ConfigName)); err == nil {
			t.Errorf("Init(%+v) left a config behind", o)
		}
	}
}

func TestTryOut(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "try")
	path, pw, err := TryOut(dir)
	if err != nil {
		t.Fatal(err)
	}
	if pw == "" {
		t.Fatal("no password printed for the new login")
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Log.File != "" || cfg.Submission.Listen[0] != TryListen {
		t.Errorf("try-out config: log %q listen %v", cfg.Log.File, cfg.Submission.Listen)
	}
	st, _ := keys.Open(cfg.KeysDir())
	if len(st.Active(TryDomain)) != 1 {
		t.Error("the try-out key is not active")
	}
	db, err := users.Load(cfg.UsersFile())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Authenticate(TryLogin, pw); err != nil {
		t.Errorf("the printed password does not work: %v", err)
	}
	// A second start reuses everything and prints no password.
	path2, pw2, err := TryOut(dir)
	if err != nil || path2 != path || pw2 != "" {
		t.Errorf("second TryOut: %q %q %v", path2, pw2, err)
	}
	if !strings.Contains(TryBanner(path, pw, "dkimrelay"), pw) || strings.Contains(TryBanner(path, "", "dkimrelay"), pw) {
		t.Error("banner shows the password only when it is new")
	}
	outbox := filepath.Join(dir, TryOutbox)
	if cfg.Delivery.Mode != "outbox" || cfg.Delivery.Outbox != outbox {
		t.Errorf("try-out delivery: mode %q outbox %q, want outbox mode into %s", cfg.Delivery.Mode, cfg.Delivery.Outbox, outbox)
	}
	want := "dkimrelay --config " + path + " verify --offline " + outbox + "/QID.eml"
	if b := TryBanner(path, pw, "dkimrelay"); !strings.Contains(b, want) {
		t.Errorf("banner lacks the verify command %q:\n%s", want, b)
	}
}
