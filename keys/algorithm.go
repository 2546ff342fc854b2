package keys

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"strings"
)

// Algorithm names a key type and size the way the CLI spells it.
type Algorithm string

const (
	RSA2048 Algorithm = "rsa2048"
	RSA3072 Algorithm = "rsa3072"
	RSA4096 Algorithm = "rsa4096"
	// Ed25519 keys are defined for DKIM by RFC 8463.
	Ed25519 Algorithm = "ed25519"
)

// DefaultAlgorithm is RSA-2048: every verifier supports it and RFC 8301
// section 3.2 recommends at least 2048 bits. Ed25519 is still ignored by some
// large receivers, so it is best used as a second signature beside RSA.
const DefaultAlgorithm = RSA2048

// algorithms lists the valid algorithms in the order they are shown to users.
var algorithms = []Algorithm{RSA2048, RSA3072, RSA4096, Ed25519}

// ParseAlgorithm parses a CLI or config spelling, ignoring case. The empty
// string means DefaultAlgorithm.
func ParseAlgorithm(s string) (Algorithm, error) {
	if s == "" {
		return DefaultAlgorithm, nil
	}
	a := Algorithm(strings.ToLower(strings.TrimSpace(s)))
	if a.valid() {
		return a, nil
	}
	names := make([]string, len(algorithms))
	for i, a := range algorithms {
		names[i] = string(a)
	}
	return "", &keyError{ErrInvalid, fmt.Sprintf("unknown key algorithm %q; use one of %s", s, strings.Join(names, ", "))}
}

func (a Algorithm) valid() bool {
	switch a {
	case RSA2048, RSA3072, RSA4096, Ed25519:
		return true
	}
	return false
}

// KeyType is the DKIM key type, the k= tag of the DNS record (RFC 6376
// section 3.6.1): "rsa" or "ed25519". Keys of the same type replace each
// other on activation; all RSA sizes are one type.
func (a Algorithm) KeyType() string {
	if a == Ed25519 {
		return "ed25519"
	}
	return "rsa"
}

// typeOrder sorts RSA keys before Ed25519 keys, so the signature every
// verifier understands comes first.
func (a Algorithm) typeOrder() int {
	if a == Ed25519 {
		return 1
	}
	return 0
}

func (a Algorithm) rsaBits() int {
	switch a {
	case RSA2048:
		return 2048
	case RSA3072:
		return 3072
	case RSA4096:
		return 4096
	}
	return 0
}

// newSigner makes a fresh private key from crypto/rand.
func newSigner(a Algorithm) (crypto.Signer, error) {
	if a == Ed25519 {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	bits := a.rsaBits()
	if bits == 0 {
		return nil, fmt.Errorf("keys: cannot generate %q key: %w", a, ErrInvalid)
	}
	return rsa.GenerateKey(rand.Reader, bits)
}

// algorithmOf tells which Algorithm a private key is, so a loaded key can be
// checked against its metadata.
func algorithmOf(signer crypto.Signer) (Algorithm, error) {
	switch k := signer.(type) {
	case ed25519.PrivateKey:
		return Ed25519, nil
	case *rsa.PrivateKey:
		switch bits := k.N.BitLen(); bits {
		case 2048:
			return RSA2048, nil
		case 3072:
			return RSA3072, nil
		case 4096:
			return RSA4096, nil
		default:
			return "", fmt.Errorf("a %d-bit RSA key, which dkimrelay does not use", bits)
		}
	}
	return "", fmt.Errorf("a %T key, which DKIM cannot use", signer)
}
