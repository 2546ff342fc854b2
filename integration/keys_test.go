package integration

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestKeysCLI covers the key commands the other tests lean on: `keys dns`
// prints a zone-file record whose character-strings are at most 255 bytes
// (RFC 1035 section 3.3) and spell the --value; `keys activate` without
// --force refuses a key DNS does not publish yet, and accepts it once it
// does.
func TestKeysCLI(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := newRelay(t, w, newSinkPair(t), relayOptions{noServe: true})

	before := r.keys()
	r.mustCLI("", "keys", "generate", "--domain", "example.org", "--algorithm", "ed25519")
	var k keyInfo
	for _, x := range r.keys() {
		if !containsKey(before, x) {
			k = x
		}
	}
	if k.Selector == "" || k.State != "pending" || !strings.Contains(strings.ToLower(k.Algorithm), "ed25519") {
		t.Fatalf("after keys generate: new key %+v, want a pending ed25519 key", k)
	}

	for _, key := range []keyInfo{r.activeKeys("example.org")[0], k} {
		value := strings.TrimSpace(r.mustCLI("", "keys", "dns", "--domain", key.Domain, "--selector", key.Selector, "--value"))
		zone := r.mustCLI("", "keys", "dns", "--domain", key.Domain, "--selector", key.Selector)
		zp := dns.NewZoneParser(strings.NewReader(zone), "", "keys dns")
		var txts []*dns.TXT
		for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
			if txt, isTXT := rr.(*dns.TXT); isTXT {
				txts = append(txts, txt)
			}
		}
		if err := zp.Err(); err != nil {
			t.Errorf("keys dns output is not zone-file text: %v\n%s", err, zone)
			continue
		}
		if len(txts) != 1 {
			t.Errorf("keys dns --selector %s printed %d TXT records, want 1:\n%s", key.Selector, len(txts), zone)
			continue
		}
		want := dns.Fqdn(key.Selector + "._domainkey." + key.Domain)
		if !strings.EqualFold(txts[0].Hdr.Name, want) {
			t.Errorf("keys dns names %s, want %s", txts[0].Hdr.Name, want)
		}
		for _, s := range txts[0].Txt {
			if len(s) > 255 {
				t.Errorf("keys dns: a character-string of %d bytes (max 255)", len(s))
			}
		}
		if got := strings.Join(txts[0].Txt, ""); got != value {
			t.Errorf("keys dns record spells %q, --value prints %q", got, value)
		}
	}

	activate := []string{"keys", "activate", "--domain", "example.org", "--selector", k.Selector}
	if out, err := r.run("", activate...); err == nil {
		t.Errorf("keys activate succeeded for a key DNS does not publish:\n%s", out)
	} else if !strings.Contains(err.Error(), "exit status 1") {
		t.Errorf("keys activate of an unpublished key: %v, want exit status 1", err)
	}
	value := r.mustCLI("", "keys", "dns", "--domain", "example.org", "--selector", k.Selector, "--value")
	w.publishDKIM(t, "example.org", k.Selector, value)
	r.mustCLI("", activate...)
	if n := len(r.activeKeys("example.org")); n != 2 {
		t.Errorf("after activating the ed25519 key, %d active keys, want 2 (one per algorithm)", n)
	}
}

// TestKeyReloadOnSIGHUP: a key activated by the CLI while the relay runs
// signs after SIGHUP, without a restart.
func TestKeyReloadOnSIGHUP(t *testing.T) {
	t.Parallel()
	w, sinks, r := testbed(t, relayOptions{})

	before := r.keys()
	r.mustCLI("", "keys", "generate", "--domain", "example.org", "--algorithm", "ed25519")
	for _, k := range r.keys() {
		if !containsKey(before, k) {
			r.publishAndActivate(k, true)
		}
	}
	if err := r.proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}

	// The reload is asynchronous: send until a message carries two
	// signatures, then check that one thoroughly.
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; ; i++ {
		id := fmt.Sprintf("hup-%d", i)
		msg := message{From: "notifications@example.org", To: "alice@example.net",
			Subject: "after SIGHUP " + id, TestID: id, Body: "reloaded?\n"}.bytes()
		r.submit(t, submission{from: "notifications@example.org", to: []string{"alice@example.net"}, msg: msg})
		got := sinks.waitForTestID(t, deliveryTimeout, id)
		if len(dkimSignatures(t, got.Data)) == 2 {
			verifyDKIM(t, w, got.Data, algRSA, algEd25519)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("15s after SIGHUP messages still carry %d signature(s), want 2", len(dkimSignatures(t, got.Data)))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
