package dkim

import (
	"bufio"
	"bytes"
	"crypto"
	"io"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	msgauth "github.com/emersion/go-msgauth/dkim"
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
	key := k.Signer
	rng := rand.New(rand.NewPCG(7, 7))
	atoms := []string{"a", "word", " ", "  ", "\t", "\r\n", "\r\n\r\n", "\n", "\r", " \r\n", "é", ".", "x\ty"}
	tMask := regexp.MustCompile(`t=[0-9]+;`)
	for n := range 300 {
		var body strings.Builder
		for range rng.IntN(40) {
			body.WriteString(atoms[rng.IntN(len(atoms))])
		}
		msg := "From: a@example.org\r\nTo: b@example.net\r\nSubject:  random\t  " + string(rune('A'+n%26)) + "\r\n  folded\r\n\r\n" + body.String()

		br := bufio.NewReader(strings.NewReader(msg))
		h, err := ReadHeader(br, 0)
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewSigner([]Key{k}, h)
		if err != nil {
			t.Fatal(err)
		}
		rest, _ := io.ReadAll(br)
		for len(rest) > 0 { // random pieces
			m := min(len(rest), 1+rng.IntN(7))
			s.Write(rest[:m])
			rest = rest[m:]
		}
		ours, err := s.Sign()
		if err != nil {
			t.Fatal(err)
		}

		ms, err := msgauth.NewSigner(&msgauth.SignOptions{
			Domain: k.Domain, Selector: k.Selector, Signer: key, Hash: crypto.SHA256,
			HeaderCanonicalization: msgauth.CanonicalizationRelaxed,
			BodyCanonicalization:   msgauth.CanonicalizationRelaxed,
			HeaderKeys:             s.names,
		})
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(ms, strings.NewReader(msg))
		if err := ms.Close(); err != nil {
			t.Fatal(err)
		}
		theirs := ms.Signature()

		a, b := tMask.ReplaceAllString(ours[0], "t=T;"), tMask.ReplaceAllString(theirs, "t=T;")
		if tMask.FindString(ours[0]) != tMask.FindString(theirs) {
			// Different seconds: b= differs legitimately; compare the rest.
			a, b = a[:strings.Index(a, " b=")], b[:strings.Index(b, " b=")]
		}
		if a != b {
			t.Fatalf("message %d %q:\n ours %q\ntheirs %q", n, msg, ours[0], theirs)
		}
		if v := verify(t, append([]byte(ours[0]), msg...), k)[0]; v.Err != nil {
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
