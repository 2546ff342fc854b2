package keys

import (
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestFileModes(t *testing.T) {
	// A permissive umask must not leak into the store.
	old := umask(0)
	defer umask(old)

	s := openTest(t)
	mustGenerate(t, s, testDomain, Ed25519, "s1", t0)
	mustActivate(t, s, testDomain, "s1", t0)
	want := map[string]fs.FileMode{
		"":                      fs.ModeDir | 0o700,
		testDomain:              fs.ModeDir | 0o700,
		lockName:                0o600,
		testDomain + "/s1.pem":  0o600,
		testDomain + "/s1.json": 0o600,
	}
	for name, mode := range want {
		fi, err := os.Stat(filepath.Join(s.Dir(), name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode() & (fs.ModeDir | fs.ModePerm); got != mode {
			t.Errorf("%s has mode %v, want %v", name, got, mode)
		}
	}
	// Open does not loosen an existing folder, nor fail on one.
	if _, err := Open(s.Dir()); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	if _, err := Open(f); err == nil {
		t.Error("Open(a file) succeeded")
	}
}

// TestDamagedFiles damages one of three keys in each way; List and Snapshot
// must return the other two plus one error naming the file and the fix.
func TestDamagedFiles(t *testing.T) {
	fixture, err := fixtureSigner()
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(fixture.(*rsa.PrivateKey))})
	write := func(data string) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	replaceInFile := func(old, new string) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			write(strings.Replace(string(b), old, new, 1))(t, path)
		}
	}
	tests := []struct {
		name    string
		file    string // of key "bad": pem or json
		damage  func(t *testing.T, path string)
		problem string // expected in the error text
		fix     string
	}{
		{"pem mode 0644", pemSuffix, func(t *testing.T, p string) { os.Chmod(p, 0o644) }, "is readable by others (mode 0644)", "run chmod 600 "},
		{"pem mode 0620", pemSuffix, func(t *testing.T, p string) { os.Chmod(p, 0o620) }, "is writable by others (mode 0620)", "run chmod 600 "},
		{"pem garbage", pemSuffix, write("not a key\n"), "is not valid PEM", "restore it from a backup"},
		{"pem truncated", pemSuffix, func(t *testing.T, p string) {
			b, _ := os.ReadFile(p)
			write(string(b[:len(b)/2]))(t, p)
		}, "is not valid PEM", "restore it from a backup"},
		{"pem bad DER", pemSuffix, write("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "is not a valid PKCS #8 private key", "restore it from a backup"},
		{"pem PKCS1", pemSuffix, write(string(pkcs1)), `"RSA PRIVATE KEY"`, "openssl pkcs8 -topk8"},
		{"pem missing", pemSuffix, func(t *testing.T, p string) { os.Remove(p) }, "is missing", "restore it from a backup"},
		{"pem other algorithm", pemSuffix, func(t *testing.T, p string) {
			b, _ := os.ReadFile(filepath.Join("testdata", "rsa2048.pem"))
			write(string(b))(t, p)
		}, "holds an rsa2048 key but its metadata says ed25519", "restore it from a backup"},
		{"json garbage", metaSuffix, write("{"), "is not valid JSON", "restore it from a backup"},
		{"json empty", metaSuffix, write(""), "is not valid JSON", "restore it from a backup"},
		{"json unknown state", metaSuffix, replaceInFile(`"active"`, `"signing"`), `unknown state "signing"`, "restore it from a backup"},
		{"json unknown algorithm", metaSuffix, replaceInFile(`"ed25519"`, `"dsa"`), `unknown algorithm "dsa"`, "restore it from a backup"},
		{"json other selector", metaSuffix, replaceInFile(`"bad"`, `"good"`), `describes key "good"`, "restore it from a backup"},
		{"json no activation date", metaSuffix, replaceInFile(`"activated"`, `"x"`), "no activation date", "restore it from a backup"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t)
			mustGenerate(t, s, testDomain, Ed25519, "bad", t0)
			mustGenerate(t, s, testDomain, Ed25519, "good", t0)
			mustGenerate(t, s, "example.net", RSA2048, "other", t0)
			mustActivate(t, s, testDomain, "bad", t0)
			mustActivate(t, s, "example.net", "other", t0)
			path := filepath.Join(s.Dir(), testDomain, "bad"+tt.file)
			tt.damage(t, path)

			keys, errs := s.List()
			if got := selectorsOf(keys); !slices.Equal(got, []string{"other:active", "good:pending"}) {
				t.Errorf("List keys = %v, want the two sound keys", got)
			}
			if len(errs) != 1 {
				t.Fatalf("List errors = %v, want one", errs)
			}
			err := errs[0]
			var de *DamageError
			if !errors.As(err, &de) || !errors.Is(err, ErrDamaged) {
				t.Fatalf("error %v (%T) is not a DamageError", err, err)
			}
			if de.Path != path || de.Domain != testDomain || de.Selector != "bad" {
				t.Errorf("DamageError names %s (%s %s), want %s", de.Path, de.Domain, de.Selector, path)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, path+" ") || !strings.Contains(msg, tt.problem) || !strings.Contains(msg, tt.fix) {
				t.Errorf("error %q does not say %q and %q", msg, tt.problem, tt.fix)
			}
			if strings.Contains(msg, "PRIVATE KEY-----") {
				t.Errorf("error leaks key material: %q", msg)
			}
			if _, err := s.Get(testDomain, "bad"); !errors.Is(err, ErrDamaged) {
				t.Errorf("Get(bad) = %v, want ErrDamaged", err)
			}
			sn, errs := s.Snapshot()
			if len(errs) != 1 || !sn.HasActive("example.net") || sn.HasActive(testDomain) {
				t.Errorf("Snapshot: %v errors; example.net active %v, example.org active %v",
					errs, sn.HasActive("example.net"), sn.HasActive(testDomain))
			}
			// Changes still work beside the damaged key.
			mustGenerate(t, s, testDomain, Ed25519, "new", t0)
			mustActivate(t, s, testDomain, "new", t0)
			if got := selectorsOf(s.Active(testDomain)); !slices.Equal(got, []string{"new:active"}) {
				t.Errorf("Active after damage = %v", got)
			}
		})
	}
}

// TestRemoveDamagedPending: an administrator can drop a pending key whose
// private key is damaged.
func TestRemoveDamagedPending(t *testing.T) {
	s := openTest(t)
	mustGenerate(t, s, testDomain, Ed25519, "s1", t0)
	os.WriteFile(filepath.Join(s.Dir(), testDomain, "s1.pem"), []byte("junk"), 0o600)
	if err := s.Remove(testDomain, "s1"); err != nil {
		t.Fatal(err)
	}
	keys, errs := s.List()
	if len(keys) != 0 || len(errs) != 0 {
		t.Errorf("after Remove: %v, %v", selectorsOf(keys), errs)
	}
	for _, f := range []string{"s1.pem", "s1.json"} {
		if exists(filepath.Join(s.Dir(), testDomain, f)) {
			t.Errorf("%s still exists", f)
		}
	}
}

// TestCrashLeftovers simulates commands killed mid-write: temporary files,
// a private key whose metadata was never written. Readers ignore them; the
// next change removes them.
func TestCrashLeftovers(t *testing.T) {
	s := openTest(t)
	k := mustGenerate(t, s, testDomain, Ed25519, "s1", t0)
	mustActivate(t, s, testDomain, "s1", t0)
	ddir := filepath.Join(s.Dir(), testDomain)
	pemData, _ := os.ReadFile(filepath.Join(ddir, "s1.pem"))
	leftovers := map[string]string{
		filepath.Join(ddir, ".s1.json"+tmpMarker+"123"): `{"domain":`,    // torn metadata rewrite
		filepath.Join(ddir, ".s2.pem"+tmpMarker+"456"):  "-----BEGIN",    // torn key write
		filepath.Join(ddir, "s202611e.pem"):             string(pemData), // Generate killed before its metadata
		filepath.Join(s.Dir(), ".x"+tmpMarker+"789"):    "junk",
		filepath.Join(s.Dir(), "example.net", "s3.pem"): string(pemData),
	}
	os.Mkdir(filepath.Join(s.Dir(), "example.net"), 0o700)
	for p, data := range leftovers {
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	keys, errs := s.List()
	if len(errs) != 0 || !slices.Equal(selectorsOf(keys), []string{"s1:active"}) {
		t.Fatalf("List with leftovers = %v, %v; want s1 only, no errors", selectorsOf(keys), errs)
	}
	if got := s.Domains(); !slices.Equal(got, []string{testDomain}) {
		t.Errorf("Domains = %v", got)
	}
	got, err := s.Get(testDomain, "s1")
	if err != nil || !got.Signer.Public().(ed25519.PublicKey).Equal(k.Public()) {
		t.Fatalf("Get(s1) = %v, %v", got, err)
	}

	// The next change cleans up; the orphan key's selector is free again.
	n := mustGenerate(t, s, testDomain, Ed25519, "", t0)
	if n.Selector != "s202611e" {
		t.Errorf("derived selector = %q, want the orphan's s202611e", n.Selector)
	}
	for p := range leftovers {
		if strings.HasSuffix(p, "s202611e.pem") {
			continue // now a real key
		}
		if exists(p) {
			t.Errorf("leftover %s was not removed", p)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(ddir, "s202611e.pem")); string(b) == string(pemData) {
		t.Error("the new key reused the orphan's private key")
	}
	keys, errs = s.List()
	if len(errs) != 0 || !slices.Equal(selectorsOf(keys), []string{"s1:active", "s202611e:pending"}) {
		t.Errorf("List after cleanup = %v, %v", selectorsOf(keys), errs)
	}
}

// TestForeignEntriesIgnored: files an administrator keeps in the store
// folder are not keys and not errors.
func TestForeignEntriesIgnored(t *testing.T) {
	s := openTest(t)
	mustGenerate(t, s, testDomain, Ed25519, "s1", t0)
	os.WriteFile(filepath.Join(s.Dir(), "README"), []byte("keys"), 0o600)
	os.Mkdir(filepath.Join(s.Dir(), "Not A Domain"), 0o700)
	os.WriteFile(filepath.Join(s.Dir(), testDomain, "notes.txt"), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(s.Dir(), testDomain, "bad_name.json"), []byte("x"), 0o600)
	keys, errs := s.List()
	if len(errs) != 0 || !slices.Equal(selectorsOf(keys), []string{"s1:pending"}) {
		t.Errorf("List = %v, %v", selectorsOf(keys), errs)
	}
	mustGenerate(t, s, testDomain, Ed25519, "s2", t0)
	if !exists(filepath.Join(s.Dir(), testDomain, "notes.txt")) || !exists(filepath.Join(s.Dir(), "README")) {
		t.Error("cleanup removed an administrator's file")
	}
}
