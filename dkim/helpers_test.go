package dkim

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	msgauth "github.com/emersion/go-msgauth/dkim"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testEd25519Key is the committed test key, so that golden signatures are
// reproducible. It signs nothing outside these tests.
func testEd25519Key(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	b, err := os.ReadFile("testdata/ed25519.pem")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatal("testdata/ed25519.pem: no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(ed25519.PrivateKey)
}

var (
	rsaKeyOnce sync.Once
	rsaKey     *rsa.PrivateKey
	rsaKeyErr  error
)

// testRSAKey returns an RSA-2048 key generated once per test binary, since
// generating one is slow.
func testRSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	rsaKeyOnce.Do(func() { rsaKey, rsaKeyErr = rsa.GenerateKey(rand.Reader, 2048) })
	if rsaKeyErr != nil {
		t.Fatal(rsaKeyErr)
	}
	return rsaKey
}

func ed25519TestKey(t testing.TB) Key {
	return Key{Domain: "example.org", Selector: "ed", Signer: testEd25519Key(t)}
}

func rsaTestKey(t testing.TB) Key {
	return Key{Domain: "example.org", Selector: "rsa", Signer: testRSAKey(t)}
}

// lookupFor returns a LookupTXT function answering, from memory, the key
// records of keys as RecordValue writes them.
func lookupFor(t testing.TB, keys ...Key) func(string) ([]string, error) {
	t.Helper()
	records := make(map[string][]string)
	for _, k := range keys {
		v, err := RecordValue(k.Signer.Public())
		if err != nil {
			t.Fatal(err)
		}
		records[k.Selector+"._domainkey."+k.Domain] = []string{v}
	}
	return func(name string) ([]string, error) {
		if v, ok := records[name]; ok {
			return v, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
}

// toCRLF converts the LF line endings of a testdata file to CRLF. Test
// messages are stored with LF so that editors and git cannot alter them.
func toCRLF(b []byte) []byte {
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

// signMessage runs msg through the package as the submission server does
// and returns the message as it would be sent (signatures prepended) and
// the signatures.
func signMessage(t testing.TB, keys []Key, msg []byte) (signed []byte, sigs []string, h *Header) {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(msg))
	h, err := ReadHeader(br, 0)
	if err != nil {
		t.Fatalf("ReadHeader: %v", err)
	}
	s, err := NewSigner(keys, h)
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	var spool bytes.Buffer
	if _, err := h.WriteTo(&spool); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.MultiWriter(&spool, s), br); err != nil {
		t.Fatal(err)
	}
	sigs, err = s.Sign()
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return append([]byte(strings.Join(sigs, "")), spool.Bytes()...), sigs, h
}

// verify checks every signature of msg with go-msgauth, against the key
// records of keys, and returns the verifications.
func verify(t testing.TB, msg []byte, keys ...Key) []*msgauth.Verification {
	t.Helper()
	vs, err := msgauth.VerifyWithOptions(bytes.NewReader(msg), &msgauth.VerifyOptions{LookupTXT: lookupFor(t, keys...)})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return vs
}

// testMessage is a message as Mastodon sends it, with CRLF line endings.
const testMessage = "From: Mastodon <notifications@example.org>\r\n" +
	"To: alice@example.net\r\n" +
	"Subject: New follower\r\n" +
	"Date: Thu, 26 Nov 2026 07:06:00 +0000\r\n" +
	"Message-ID: <t1@example.org>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Bob is now following you.\r\n"

// msgauthSign signs msg with go-msgauth's signer, the same key, header
// list and canonicalization as this package's, and returns its field.
func msgauthSign(t *testing.T, k Key, msg string, names []string) string {
	t.Helper()
	ms, err := msgauth.NewSigner(&msgauth.SignOptions{
		Domain: k.Domain, Selector: k.Selector, Signer: k.Signer, Hash: crypto.SHA256,
		HeaderCanonicalization: msgauth.CanonicalizationRelaxed,
		BodyCanonicalization:   msgauth.CanonicalizationRelaxed,
		HeaderKeys:             names,
	})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(ms, strings.NewReader(msg))
	if err := ms.Close(); err != nil {
		t.Fatal(err)
	}
	return ms.Signature()
}

// signInPieces signs msg with k, its body reaching the signer in pieces
// of 1 to maxPiece bytes drawn from rng (to exercise the state kept
// between writes), and returns the signature field and the signed
// header fields' names.
func signInPieces(t *testing.T, k Key, msg string, rng *mrand.Rand, maxPiece int) (field string, names []string) {
	t.Helper()
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
	for len(rest) > 0 {
		m := min(len(rest), 1+rng.IntN(maxPiece))
		s.Write(rest[:m])
		rest = rest[m:]
	}
	sigs, err := s.Sign()
	if err != nil {
		t.Fatal(err)
	}
	return sigs[0], s.names
}

// tMask matches a signature's t= tag.
var tMask = regexp.MustCompile(`t=[0-9]+;`)

// sameSignature reports whether two signature fields are the same apart
// from t= and, when t= differs (made in different seconds), b=.
func sameSignature(ours, theirs string) bool {
	a, b := tMask.ReplaceAllString(ours, "t=T;"), tMask.ReplaceAllString(theirs, "t=T;")
	if tMask.FindString(ours) != tMask.FindString(theirs) {
		a, b = a[:strings.Index(a, " b=")], b[:strings.Index(b, " b=")]
	}
	return a == b
}
