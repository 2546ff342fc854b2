package resolver_test

import (
	"context"
	"testing"
	"time"

	"dkimrelay/resolver"
	"dkimrelay/resolver/dnstest"
)

func TestTrackerTTL(t *testing.T) {
	srv := dnstest.NewServer(t)
	srv.AddZone(`
t.test.        900 IN TXT "v=spf1 a -all"
t.test.        600 IN A 192.0.2.1
t.test.        120 IN AAAA 2001:db8::1
mx.test.       300 IN MX 20 b.mx.test.
mx.test.       300 IN MX 10 a.mx.test.
1.2.0.192.in-addr.arpa. 60 IN PTR t.test.
`)
	r := newResolver(t, srv, resolver.Options{})
	ctx := context.Background()
	tr := r.Track()
	if _, ok, neg := tr.TTL(); ok || neg {
		t.Errorf("a new tracker reports ok=%v negative=%v", ok, neg)
	}

	txts, err := tr.LookupTXT(ctx, "t.test")
	if err != nil || len(txts) != 1 || txts[0] != "v=spf1 a -all" {
		t.Fatalf("LookupTXT: %q, %v", txts, err)
	}
	if ttl, ok, neg := tr.TTL(); ttl != 900*time.Second || !ok || neg {
		t.Errorf("after TXT: %v %v %v, want 15m0s true false", ttl, ok, neg)
	}
	addrs, err := tr.LookupIPAddr(ctx, "t.test")
	if err != nil || len(addrs) != 2 {
		t.Fatalf("LookupIPAddr: %v, %v", addrs, err)
	}
	if ttl, _, _ := tr.TTL(); ttl != 120*time.Second {
		t.Errorf("after A and AAAA: %v, want the smaller 2m0s", ttl)
	}
	mxs, err := tr.LookupMX(ctx, "mx.test")
	if err != nil || len(mxs) != 2 || mxs[0].Host != "a.mx.test." || mxs[1].Host != "b.mx.test." {
		t.Fatalf("LookupMX: %v, %v", mxs, err)
	}
	names, err := tr.LookupAddr(ctx, "192.0.2.1")
	if err != nil || len(names) != 1 || names[0] != "t.test." {
		t.Fatalf("LookupAddr: %v, %v", names, err)
	}
	if ttl, _, neg := tr.TTL(); ttl != time.Minute || neg {
		t.Errorf("after PTR: %v negative=%v, want 1m0s false", ttl, neg)
	}

	// An address family with no records is not a negative answer when
	// the other has some; a name with neither is.
	tr = r.Track()
	if _, err := tr.LookupIPAddr(ctx, "mx.test"); !resolver.IsNotFound(err) {
		t.Errorf("LookupIPAddr of a name without addresses: %v", err)
	}
	if _, _, neg := tr.TTL(); !neg {
		t.Error("a name without addresses is not reported negative")
	}
	if _, err := tr.LookupTXT(ctx, "nx.test"); !resolver.IsNXDomain(err) {
		t.Errorf("LookupTXT of a missing name: %v", err)
	}

	// Temporary failures say nothing about freshness.
	srv.SetServfail("bad.test")
	tr = r.Track()
	if _, err := tr.LookupTXT(ctx, "bad.test"); !resolver.IsTemporary(err) {
		t.Errorf("SERVFAIL: %v", err)
	}
	if _, ok, neg := tr.TTL(); ok || neg {
		t.Errorf("after SERVFAIL: ok=%v negative=%v", ok, neg)
	}
}
