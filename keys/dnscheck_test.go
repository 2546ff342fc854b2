package keys

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
)

func TestCheckPublished(t *testing.T) {
	s := openTest(t)
	k := mustGenerate(t, s, testDomain, Ed25519, "sel1", t0)
	other := mustGenerate(t, s, testDomain, Ed25519, "sel2", t0)
	good, _ := k.RecordValue()
	bad, _ := other.RecordValue()
	name := "sel1._domainkey.example.org"
	cases := []struct {
		name    string
		records []string
		err     error
		want    Publication
	}{
		{"matching", []string{good}, nil, Published},
		{"matching beside an unrelated TXT", []string{"google-site-verification=abc", good}, nil, Published},
		{"another key", []string{bad}, nil, Different},
		{"two DKIM records", []string{good, bad}, nil, Different},
		{"revoked", []string{"v=DKIM1; k=ed25519; p="}, nil, Revoked},
		{"garbage only", []string{"hello"}, nil, Different},
		{"nxdomain", nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}, Missing},
		{"no records", nil, nil, Missing},
		{"servfail", nil, &net.DNSError{Err: "server misbehaving", Name: name, IsTemporary: true}, DNSError},
		{"timeout", nil, &net.DNSError{Err: "i/o timeout", Name: name, IsTimeout: true}, DNSError},
		{"other error", nil, errors.New("boom"), DNSError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var asked string
			lookup := func(_ context.Context, n string) ([]string, error) { asked = n; return tc.records, tc.err }
			res := CheckPublished(context.Background(), lookup, k)
			if res.State != tc.want {
				t.Errorf("state %s (%s), want %s", res.State, res.Detail, tc.want)
			}
			if asked != name {
				t.Errorf("looked up %q, want %q", asked, name)
			}
			if res.Detail == "" || (tc.want != Published && !strings.Contains(res.Detail, name)) {
				t.Errorf("detail %q should name %s", res.Detail, name)
			}
			if (res.Fix == "") != (tc.want == Published) || !strings.HasPrefix(res.Detail, res.Problem) || !strings.HasSuffix(res.Detail, res.Fix) {
				t.Errorf("problem %q and fix %q do not make detail %q", res.Problem, res.Fix, res.Detail)
			}
		})
	}
}

func TestCheckAll(t *testing.T) {
	s := openTest(t)
	var ks []*Key
	for _, sel := range []string{"a", "b", "c", "d"} {
		ks = append(ks, mustGenerate(t, s, testDomain, Ed25519, sel, t0))
	}
	published, _ := ks[1].RecordValue()
	lookup := func(_ context.Context, n string) ([]string, error) {
		if strings.HasPrefix(n, "b.") {
			return []string{published}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: n, IsNotFound: true}
	}
	res := CheckAll(context.Background(), lookup, ks)
	for i, r := range res {
		want := Missing
		if i == 1 {
			want = Published
		}
		if r.Key != ks[i] || r.State != want {
			t.Errorf("result %d: %s %s, want %s %s", i, r.Key.Selector, r.State, ks[i].Selector, want)
		}
	}
}
