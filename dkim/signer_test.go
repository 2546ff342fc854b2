package dkim

import (
	"bufio"
	"crypto"
	"crypto/rsa"
	"errors"
	"io"
	"math/big"
	"slices"
	"strings"
	"testing"
)

func TestSignVerify(t *testing.T) {
	ed, rs := ed25519TestKey(t), rsaTestKey(t)
	tests := []struct {
		name  string
		keys  []Key
		algos []string
	}{
		{"ed25519", []Key{ed}, []string{"ed25519-sha256"}},
		{"rsa2048", []Key{rs}, []string{"rsa-sha256"}},
		{"both", []Key{rs, ed}, []string{"rsa-sha256", "ed25519-sha256"}},
		{"both reversed", []Key{ed, rs}, []string{"ed25519-sha256", "rsa-sha256"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signed, sigs, _ := signMessage(t, tt.keys, []byte(testMessage))
			if len(sigs) != len(tt.keys) {
				t.Fatalf("got %d signatures, want %d", len(sigs), len(tt.keys))
			}
			for i, sig := range sigs {
				if !strings.HasPrefix(sig, "DKIM-Signature: ") || !strings.HasSuffix(sig, "\r\n") {
					t.Errorf("signature %d is not a header field ending in CRLF: %q", i, sig)
				}
				tags := sigTags(t, sig)
				if tags["a"] != tt.algos[i] || tags["s"] != tt.keys[i].Selector || tags["d"] != "example.org" {
					t.Errorf("signature %d: a=%s s=%s d=%s, want a=%s s=%s d=example.org",
						i, tags["a"], tags["s"], tags["d"], tt.algos[i], tt.keys[i].Selector)
				}
				if tags["c"] != "relaxed/relaxed" {
					t.Errorf("signature %d: c=%s, want relaxed/relaxed", i, tags["c"])
				}
				if tags["h"] != sigTags(t, sigs[0])["h"] {
					t.Errorf("signature %d: h=%s differs from the first's %s", i, tags["h"], sigTags(t, sigs[0])["h"])
				}
				for _, line := range strings.Split(strings.TrimSuffix(sig, "\r\n"), "\r\n") {
					if len(line) > 998 {
						t.Errorf("signature %d has a line of %d characters", i, len(line))
					}
				}
			}
			vs := verify(t, signed, tt.keys...)
			if len(vs) != len(tt.keys) {
				t.Fatalf("%d verifications, want %d", len(vs), len(tt.keys))
			}
			for i, v := range vs {
				if v.Err != nil {
					t.Errorf("signature %d does not verify: %v", i, v.Err)
				}
			}
			// And the check can fail: a changed body breaks every signature.
			tampered := []byte(strings.Replace(string(signed), "Bob is", "Eve is", 1))
			for i, v := range verify(t, tampered, tt.keys...) {
				if v.Err == nil {
					t.Errorf("signature %d verifies a changed body", i)
				}
			}
		})
	}
}

func TestSignedHeaderNames(t *testing.T) {
	h := readTestHeader(t, testMessage)
	got, err := signedHeaderNames(h)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"From", "From", "Sender", "Reply-To", "Subject", "Subject", "Date", "Date", "To", "To", "Cc",
		"List-Id", "List-Help", "List-Unsubscribe", "List-Subscribe", "List-Post", "List-Owner",
		"List-Archive", "List-Unsubscribe-Post", "Message-ID", "Message-ID",
		"MIME-Version", "MIME-Version", "Content-Type", "Content-Type",
		"Content-Transfer-Encoding", "Content-Transfer-Encoding",
	}
	if !slices.Equal(got, want) {
		t.Errorf("signedHeaderNames:\n got %v\nwant %v", got, want)
	}
	_, sigs, _ := signMessage(t, []Key{ed25519TestKey(t)}, []byte(testMessage))
	if h := sigTags(t, sigs[0])["h"]; h != strings.Join(want, ":") {
		t.Errorf("h=%s, want %s", h, strings.Join(want, ":"))
	}
}

func TestNewSignerErrors(t *testing.T) {
	ed := testEd25519Key(t)
	small := &fakeSigner{pub: &rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), 511), E: 65537}}
	tests := []struct {
		name    string
		keys    []Key
		header  string
		wantErr error  // checked with errors.Is when set
		wantMsg string // a substring of the message
	}{
		{"no keys", nil, testMessage, ErrNoKeys, "no signing keys"},
		{"no private key", []Key{{Domain: "example.org", Selector: "s"}}, testMessage, nil, "no private key"},
		{"empty selector", []Key{{Domain: "example.org", Signer: ed}}, testMessage, nil, "selector: empty"},
		{"selector with semicolon", []Key{{Domain: "example.org", Selector: "a;b=c", Signer: ed}}, testMessage, nil, "contains ';'"},
		{"domain with space", []Key{{Domain: "example .org", Selector: "s", Signer: ed}}, testMessage, nil, "contains a space"},
		{"domain U-label", []Key{{Domain: "exämple.org", Selector: "s", Signer: ed}}, testMessage, nil, "A-label"},
		{"domain empty label", []Key{{Domain: "example..org", Selector: "s", Signer: ed}}, testMessage, nil, "empty label"},
		{"small RSA key", []Key{{Domain: "example.org", Selector: "s", Signer: small}}, testMessage, nil, "512 bits"},
		{"unsupported key", []Key{{Domain: "example.org", Selector: "s", Signer: &fakeSigner{pub: "not a key"}}}, testMessage, nil, "unsupported key type"},
		{"no From", []Key{ed25519TestKey(t)}, "To: a@example.net\r\n\r\n", ErrMalformedHeader, "no From field"},
		{"too many fields", []Key{ed25519TestKey(t)}, "From: a@example.org\r\n" + strings.Repeat("To: b@example.net\r\n", 400) + "\r\n",
			ErrMalformedHeader, "To 400 times"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSigner(tt.keys, readTestHeader(t, tt.header))
			if err == nil {
				s.Close()
				t.Fatal("NewSigner succeeded")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %q does not wrap %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
		})
	}
}

func TestSignTwiceAndClose(t *testing.T) {
	s, err := NewSigner([]Key{ed25519TestKey(t)}, readTestHeader(t, testMessage))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(s, "body\r\n")
	first, err := s.Sign()
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.Sign()
	if err != nil || !slices.Equal(first, second) {
		t.Errorf("second Sign = %q, %v; want %q, nil", second, err, first)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after Sign: %v", err)
	}
	if _, err := io.WriteString(s, "more"); err == nil {
		t.Error("Write after Sign succeeded")
	}
}

func TestSignerFailure(t *testing.T) {
	failing := &fakeSigner{pub: testEd25519Key(t).Public(), err: errors.New("token removed")}
	keys := []Key{{Domain: "example.org", Selector: "hsm", Signer: failing}, ed25519TestKey(t)}
	s, err := NewSigner(keys, readTestHeader(t, testMessage))
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := s.Sign()
	if err == nil || sigs != nil {
		t.Fatalf("Sign = %q, %v; want an error", sigs, err)
	}
	if !strings.Contains(err.Error(), "hsm._domainkey.example.org") || !strings.Contains(err.Error(), "token removed") {
		t.Errorf("error %q does not name the key and the cause", err)
	}
}

// fakeSigner is a crypto.Signer with a chosen public key that fails or
// signs nothing useful: for the checks done before any signing.
type fakeSigner struct {
	pub crypto.PublicKey
	err error
}

func (f *fakeSigner) Public() crypto.PublicKey { return f.pub }
func (f *fakeSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	if f.err != nil {
		return nil, f.err
	}
	return []byte("signature"), nil
}

// readTestHeader parses the header of msg, which must be valid.
func readTestHeader(t testing.TB, msg string) *Header {
	t.Helper()
	h, err := ReadHeader(bufio.NewReader(strings.NewReader(msg)), 0)
	if err != nil {
		t.Fatalf("ReadHeader: %v", err)
	}
	return h
}

// sigTags parses the tags of a DKIM-Signature field, white space removed.
func sigTags(t testing.TB, sig string) map[string]string {
	t.Helper()
	_, value, ok := strings.Cut(sig, ":")
	if !ok {
		t.Fatalf("not a header field: %q", sig)
	}
	tags, err := parseTagList(value)
	if err != nil {
		t.Fatalf("signature %q: %v", sig, err)
	}
	m := make(map[string]string)
	for _, tg := range tags {
		m[tg.name] = strings.Join(strings.FieldsFunc(tg.value, isFWS), "")
	}
	return m
}
