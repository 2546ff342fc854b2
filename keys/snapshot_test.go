package keys

import (
	"slices"
	"testing"
	"time"

	"dkimrelay/dkim"
)

func TestSnapshot(t *testing.T) {
	s := openTest(t)
	mustGenerate(t, s, testDomain, Ed25519, "e1", t0)
	mustGenerate(t, s, testDomain, RSA2048, "r1", t0)
	mustGenerate(t, s, testDomain, Ed25519, "pending", t0)
	mustGenerate(t, s, "example.net", Ed25519, "only-pending", t0)
	mustActivate(t, s, testDomain, "e1", t0)
	mustActivate(t, s, testDomain, "r1", t0)
	mustGenerate(t, s, testDomain, RSA2048, "r2", t0)
	mustActivate(t, s, testDomain, "r2", t0.Add(time.Hour)) // r1 retiring

	sn, errs := s.Snapshot()
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	selectors := func(ks []dkim.Key) []string {
		var out []string
		for _, k := range ks {
			if k.Domain != testDomain || k.Signer == nil {
				t.Errorf("signer %+v", k)
			}
			out = append(out, k.Selector)
		}
		return out
	}
	for _, d := range []string{"example.org", "Example.Org", "example.org."} {
		if got := selectors(sn.Signers(d)); !slices.Equal(got, []string{"r2", "e1"}) {
			t.Errorf("Signers(%q) = %v, want [r2 e1]", d, got)
		}
		if !sn.HasActive(d) {
			t.Errorf("HasActive(%q) = false", d)
		}
	}
	for _, d := range []string{"example.net", "example.com", ""} {
		if sn.HasActive(d) || sn.Signers(d) != nil {
			t.Errorf("%q has signers %v", d, sn.Signers(d))
		}
	}
	if got := sn.Domains(); !slices.Equal(got, []string{testDomain}) {
		t.Errorf("Domains = %v", got)
	}
	// The snapshot is a copy: callers' changes and later store changes
	// do not reach it.
	sig := sn.Signers(testDomain)
	sig[0].Selector = "changed"
	mustActivate(t, s, testDomain, "pending", t0.Add(2*time.Hour))
	if got := selectors(sn.Signers(testDomain)); !slices.Equal(got, []string{"r2", "e1"}) {
		t.Errorf("after changes, Signers = %v", got)
	}
	sn2, _ := s.Snapshot()
	if got := selectors(sn2.Signers(testDomain)); !slices.Equal(got, []string{"r2", "pending"}) {
		t.Errorf("new snapshot Signers = %v, want [r2 pending]", got)
	}

	var none *Snapshot
	if none.HasActive(testDomain) || none.Signers(testDomain) != nil || none.Domains() != nil {
		t.Error("nil Snapshot is not empty")
	}
}
