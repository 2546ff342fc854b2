package ingest

import (
	"slices"
	"testing"
	"time"

	"dkimrelay/dkim"
	"dkimrelay/keys"
)

func TestKeyring(t *testing.T) {
	st, err := keys.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, k := range []struct{ domain, selector string }{
		{"example.org", "a"}, {"relay.test", "r"}, {"unlisted.example", "u"},
	} {
		if _, err := st.Generate(k.domain, keys.Ed25519, k.selector, now); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.Activate(k.domain, k.selector, now); err != nil {
			t.Fatal(err)
		}
	}
	// A pending key signs nothing.
	if _, err := st.Generate("pending.example", keys.Ed25519, "p", now); err != nil {
		t.Fatal(err)
	}
	snap, errs := st.Snapshot()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	kr := NewKeyring(snap, []string{"Example.ORG", "pending.example", "nokey.example"})
	selectors := func(ks []dkim.Key) []string { return dkim.Selectors(ks) }
	for _, tc := range []struct {
		domain  string
		sending []string
		own     []string
	}{
		{"example.org", []string{"a"}, []string{"a"}},
		{"EXAMPLE.org", []string{"a"}, []string{"a"}},
		{"relay.test", nil, []string{"r"}}, // the hostname: not a sending domain
		{"unlisted.example", nil, []string{"u"}},
		{"pending.example", nil, nil},
		{"nokey.example", nil, nil},
	} {
		if got := selectors(kr.Sending(tc.domain)); !slices.Equal(got, tc.sending) && len(got)+len(tc.sending) > 0 {
			t.Errorf("Sending(%s) = %v, want %v", tc.domain, got, tc.sending)
		}
		if got := kr.CanSend(tc.domain); got != (len(tc.sending) > 0) {
			t.Errorf("CanSend(%s) = %v, want %v", tc.domain, got, len(tc.sending) > 0)
		}
		if got := selectors(kr.Own(tc.domain)); !slices.Equal(got, tc.own) && len(got)+len(tc.own) > 0 {
			t.Errorf("Own(%s) = %v, want %v", tc.domain, got, tc.own)
		}
	}
	if got, want := kr.Domains(), []string{"example.org", "relay.test", "unlisted.example"}; !slices.Equal(got, want) {
		t.Errorf("Domains() = %v, want %v", got, want)
	}
	var none *Keyring
	if none.Sending("example.org") != nil || none.CanSend("example.org") || none.Own("example.org") != nil || none.Domains() != nil {
		t.Error("a nil Keyring has keys")
	}
}
