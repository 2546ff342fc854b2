package keys

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// t0 is a fixed "now" in November 2026.
var t0 = time.Date(2026, 11, 15, 10, 0, 0, 0, time.UTC)

const testDomain = "example.org"

// fixtureSigner loads the committed RSA-2048 key, so tests need not spend
// seconds generating RSA keys. Reusing one key for several selectors is
// fine for the store, which never compares keys with each other.
func fixtureSigner() (crypto.Signer, error) {
	return loadFixture("rsa2048.pem")
}

func loadFixture(name string) (crypto.Signer, error) {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("testdata/" + name + " is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	return k.(crypto.Signer), nil
}

// fastSigner replaces Store.newSigner in tests: real Ed25519 keys, the
// fixtures for RSA-2048 and RSA-3072.
func fastSigner(a Algorithm) (crypto.Signer, error) {
	switch a {
	case Ed25519:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case RSA2048:
		return fixtureSigner()
	case RSA3072:
		return loadFixture("rsa3072.pem")
	}
	return nil, fmt.Errorf("test has no fixture for %s", a)
}

// openTest opens a fresh store in a temporary folder with fastSigner.
func openTest(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	s.newSigner = fastSigner
	return s
}

func mustGenerate(t testing.TB, s *Store, domain string, alg Algorithm, sel string, now time.Time) *Key {
	t.Helper()
	k, err := s.Generate(domain, alg, sel, now)
	if err != nil {
		t.Fatalf("Generate(%q, %q, %q): %v", domain, alg, sel, err)
	}
	return k
}

func mustActivate(t testing.TB, s *Store, domain, sel string, now time.Time) []*Key {
	t.Helper()
	_, retired, err := s.Activate(domain, sel, now)
	if err != nil {
		t.Fatalf("Activate(%q, %q): %v", domain, sel, err)
	}
	return retired
}

// selectorsOf lists "selector:state" of keys, for compact comparisons.
func selectorsOf(keys []*Key) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.Selector+":"+string(k.State))
	}
	return out
}
