package resolver

import (
	"context"
	"testing"
	"time"

	"dkimrelay/resolver/dnstest"
)

func TestSecureLookups(t *testing.T) {
	srv := dnstest.NewServer(t)
	srv.AddZone(`
signed.test.           MX 10 mx.signed.test.
mx.signed.test.        A  192.0.2.1
mx.signed.test.        AAAA 2001:db8::1
_25._tcp.mx.signed.test. TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
plain.test.            MX 10 mx.signed.test.
alias.signed.test.     CNAME mx.plain.test.
mx.plain.test.         A  192.0.2.2
`)
	srv.SetSecure("signed.test")
	srv.SetServfail("_25._tcp.bogus.signed.test")
	r, err := New(Options{Servers: []string{srv.Addr()}, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if mxs, secure, err := r.LookupMXSecure(ctx, "signed.test"); err != nil || !secure || len(mxs) != 1 {
		t.Errorf("signed MX: %v secure=%v %v", mxs, secure, err)
	}
	if _, secure, err := r.LookupMXSecure(ctx, "plain.test"); err != nil || secure {
		t.Errorf("unsigned MX: secure=%v %v", secure, err)
	}
	if ips, secure, err := r.LookupIPSecure(ctx, "mx.signed.test"); err != nil || !secure || len(ips) != 2 {
		t.Errorf("signed addresses: %v secure=%v %v", ips, secure, err)
	}
	// A CNAME into an unsigned zone is not validated as a whole.
	if _, secure, err := r.LookupIPSecure(ctx, "alias.signed.test"); err != nil || secure {
		t.Errorf("CNAME to an unsigned zone: secure=%v %v", secure, err)
	}
	recs, secure, err := r.LookupTLSA(ctx, 25, "mx.signed.test")
	if err != nil || !secure || len(recs) != 1 || recs[0].Usage != 3 {
		t.Errorf("TLSA: %v secure=%v %v", recs, secure, err)
	}
	// A validated denial: no records, secure.
	if _, secure, err := r.LookupTLSA(ctx, 25, "none.signed.test"); !IsNotFound(err) || !secure {
		t.Errorf("TLSA denial: secure=%v %v", secure, err)
	}
	if _, _, err := r.LookupTLSA(ctx, 25, "bogus.signed.test"); !IsTemporary(err) {
		t.Errorf("bogus TLSA: %v, want a temporary error", err)
	}

	for server, want := range map[string]bool{"127.0.0.1:53": true, "[::1]:53": true, "192.0.2.53:53": false} {
		if got := r.trusts(server); got != want {
			t.Errorf("trusts(%s) = %v, want %v", server, got, want)
		}
	}
	r.trustAD = true
	if !r.trusts("192.0.2.53:53") {
		t.Error("TrustAD does not trust a remote server")
	}
}
