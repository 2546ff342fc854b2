package dkim

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestSameAsGoMsgauth signs random messages with this package's signer and
// with go-msgauth's (which it replaced, and which verifies in the tests and
// the sink), same key, same h= list, and requires the same signature field
// apart from t= and b=: the same body hash, tag order and folding. Ed25519
// signatures are deterministic, so when both run within the same second b=
// must match too. Bodies mix text, spaces, tabs, CR, LF and empty lines,
// and reach the signer in random pieces, to exercise the state kept
// between writes.
func TestSameAsGoMsgauth(t *testing.T) {
	k := ed25519TestKey(t)
	rng := rand.New(rand.NewPCG(7, 7))
	atoms := []string{"a", "word", " ", "  ", "\t", "\r\n", "\r\n\r\n", "\n", "\r", " \r\n", "é", ".", "x\ty"}
	for n := range 300 {
		var body strings.Builder
		for range rng.IntN(40) {
			body.WriteString(atoms[rng.IntN(len(atoms))])
		}
		msg := "From: a@example.org\r\nTo: b@example.net\r\nSubject:  random\t  " + string(rune('A'+n%26)) + "\r\n  folded\r\n\r\n" + body.String()

		ours, names := signInPieces(t, k, msg, rng, 7)
		theirs := msgauthSign(t, k, msg, names)
		if !sameSignature(ours, theirs) {
			t.Fatalf("message %d %q:\n ours %q\ntheirs %q", n, msg, ours, theirs)
		}
		if v := verify(t, append([]byte(ours), msg...), k)[0]; v.Err != nil {
			t.Fatalf("message %d: our signature does not verify: %v", n, v.Err)
		}
	}
}

// TestSignerBodyOnceForAllKeys checks that signing with several keys gives
// each the same bh= (the body is hashed once) and valid signatures.
func TestSignerBodyOnceForAllKeys(t *testing.T) {
	keys := []Key{rsaTestKey(t), ed25519TestKey(t)}
	msg := []byte("From: a@example.org\r\nSubject: two keys\r\n\r\n" + bodyOfSize(100<<10))
	signed, sigs, _ := signMessage(t, keys, msg)
	if len(sigs) != 2 || sigTags(t, sigs[0])["bh"] != sigTags(t, sigs[1])["bh"] {
		t.Fatalf("bh= differs between keys: %q", sigs)
	}
	for i, v := range verify(t, signed, keys...) {
		if v.Err != nil {
			t.Errorf("signature %d: %v", i, v.Err)
		}
	}
	if !bytes.Contains([]byte(sigs[0]), []byte("a=rsa-sha256")) || !bytes.Contains([]byte(sigs[1]), []byte("a=ed25519-sha256")) {
		t.Errorf("algorithms: %q", sigs)
	}
}
