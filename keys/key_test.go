package keys

import (
	"crypto/ed25519"
	"crypto/rsa"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dkimrelay/dkim"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// TestMetadataGolden pins the on-disk metadata format, which outlives any
// one version of dkimrelay.
func TestMetadataGolden(t *testing.T) {
	s := openTest(t)
	at := time.Date(2026, 11, 15, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))
	mustGenerate(t, s, testDomain, Ed25519, "old", at)
	mustGenerate(t, s, testDomain, RSA2048, "pending", at)
	mustActivate(t, s, testDomain, "old", at.Add(time.Hour))
	mustGenerate(t, s, testDomain, Ed25519, "new", at)
	mustActivate(t, s, testDomain, "new", at.Add(48*time.Hour))
	for _, name := range []string{"pending", "new", "old"} {
		got, err := os.ReadFile(filepath.Join(s.Dir(), testDomain, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", "metadata-"+name+".json")
		if *update {
			os.WriteFile(golden, got, 0o644)
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s.json:\n%s\nwant (%s):\n%s", name, got, golden, want)
		}
	}
}

// TestRecord checks the DNS record of stored keys against the dkim
// package's parser, and the zone text against a golden file.
func TestRecord(t *testing.T) {
	s := openTest(t)
	for _, alg := range []Algorithm{RSA2048, Ed25519} {
		k := mustGenerate(t, s, testDomain, alg, "", t0)
		v, err := k.RecordValue()
		if err != nil {
			t.Fatal(err)
		}
		rec, err := dkim.ParseRecord(v)
		if err != nil {
			t.Fatalf("%s: ParseRecord(%q): %v", alg, v, err)
		}
		loaded, err := s.Get(testDomain, k.Selector)
		if err != nil {
			t.Fatal(err)
		}
		if !rec.Matches(loaded.Public()) {
			t.Errorf("%s: record %q does not match the stored key", alg, v)
		}
		if !strings.Contains(v, "k="+alg.KeyType()) {
			t.Errorf("%s: record %q lacks k=%s", alg, v, alg.KeyType())
		}
		if k.RecordName() != k.Selector+"._domainkey.example.org" {
			t.Errorf("RecordName = %q", k.RecordName())
		}
		d := loaded.DKIM()
		if d.Domain != testDomain || d.Selector != k.Selector || d.Signer == nil {
			t.Errorf("DKIM() = %+v", d)
		}
	}

	// The fixture's zone text is stable: compare with a golden file.
	k := mustGenerate(t, openTest(t), testDomain, RSA2048, "s202611r", t0)
	zone, err := k.Zone()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "rsa2048.zone")
	if *update {
		os.WriteFile(golden, []byte(zone), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if zone != string(want) {
		t.Errorf("Zone() =\n%s\nwant (%s):\n%s", zone, golden, want)
	}

	var none Key
	if _, err := none.RecordValue(); err == nil {
		t.Error("RecordValue without a private key succeeded")
	}
	if none.Public() != nil {
		t.Error("Public without a private key is not nil")
	}
}

// TestRealGeneration runs the real generator once per key type (one
// RSA-2048 key: larger sizes take seconds on small machines).
func TestRealGeneration(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []Algorithm{RSA2048, Ed25519} {
		k, err := s.Generate(testDomain, alg, "", t0)
		if err != nil {
			t.Fatal(err)
		}
		loaded, err := s.Get(testDomain, k.Selector)
		if err != nil {
			t.Fatal(err)
		}
		switch p := loaded.Signer.(type) {
		case *rsa.PrivateKey:
			if alg != RSA2048 || p.N.BitLen() != 2048 || !p.PublicKey.Equal(k.Public()) {
				t.Errorf("%s: loaded %d-bit RSA key", alg, p.N.BitLen())
			}
		case ed25519.PrivateKey:
			if alg != Ed25519 || !p.Equal(k.Signer) {
				t.Errorf("%s: loaded Ed25519 key differs", alg)
			}
		default:
			t.Errorf("%s: loaded %T", alg, p)
		}
	}
}
