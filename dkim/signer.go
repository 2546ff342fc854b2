package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"

	msgauth "github.com/emersion/go-msgauth/dkim"
)

// Key is a signing key and where its public half is published:
// Selector._domainkey.Domain (RFC 6376 section 3.6.2.1).
type Key struct {
	Domain   string // the signing domain, d= (A-labels for an IDN)
	Selector string // s=
	// Signer is the private key: *rsa.PrivateKey of at least 1024 bits
	// (RFC 8301 section 3.2), ed25519.PrivateKey, or any crypto.Signer
	// whose Public is *rsa.PublicKey or ed25519.PublicKey.
	Signer crypto.Signer
}

// ErrNoKeys is returned by NewSigner when it is given no keys.
var ErrNoKeys = errors.New("dkim: no signing keys")

// Signer computes the DKIM signatures of one message. NewSigner feeds it the
// header; the body is written to it with Write, then Sign returns the
// signatures.
//
// Each key has its own go-msgauth signer, which hashes in a goroutine fed
// through an io.Pipe: Write returns when every key has consumed the bytes,
// and nothing is buffered beyond a few kilobytes per key. Sign (or Close)
// must be called on every path, errors included, to end those goroutines.
type Signer struct {
	keys    []Key
	signers []*msgauth.Signer
	w       io.Writer
	done    bool
	sigs    []string
	err     error
}

// NewSigner starts signing a message whose final header is h, with every
// key: relaxed/relaxed canonicalization (RFC 6376 section 3.4) and SHA-256,
// the header set of RFC 6376 section 5.4.1 with oversigning (see the package
// documentation). Fields added to h afterwards are not signed.
//
// It fails if keys is empty (ErrNoKeys), if a key is unusable, or if h has
// no From field (RFC 6376 section 5.4 requires signing it) or so many
// instances of the signed fields that the h= tag would not fit on a line
// (an error wrapping ErrMalformedHeader).
func NewSigner(keys []Key, h *Header) (*Signer, error) {
	if len(keys) == 0 {
		return nil, ErrNoKeys
	}
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return nil, err
		}
	}
	if !h.Has("From") {
		return nil, fmt.Errorf("%w: no From field, which a DKIM signature must cover (RFC 6376 section 5.4)", ErrMalformedHeader)
	}
	names, err := signedHeaderNames(h)
	if err != nil {
		return nil, err
	}

	s := &Signer{keys: keys}
	writers := make([]io.Writer, 0, len(keys))
	for _, k := range keys {
		ms, err := msgauth.NewSigner(&msgauth.SignOptions{
			Domain:                 k.Domain,
			Selector:               k.Selector,
			Signer:                 k.Signer,
			Hash:                   crypto.SHA256,
			HeaderCanonicalization: msgauth.CanonicalizationRelaxed,
			BodyCanonicalization:   msgauth.CanonicalizationRelaxed,
			HeaderKeys:             names,
		})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("dkim: key %s: %w", keyName(k), err)
		}
		s.signers = append(s.signers, ms)
		writers = append(writers, ms)
	}
	s.w = io.MultiWriter(writers...)
	if _, err := h.WriteTo(s.w); err != nil {
		s.Close()
		return nil, fmt.Errorf("dkim: hashing the header: %w", err)
	}
	return s, nil
}

// Write hashes the next bytes of the message body.
func (s *Signer) Write(p []byte) (int, error) {
	if s.done {
		return 0, errors.New("dkim: write after Sign or Close")
	}
	n, err := s.w.Write(p)
	if err != nil {
		return n, fmt.Errorf("dkim: hashing the body: %w", err)
	}
	return n, nil
}

// Sign ends the body and returns one DKIM-Signature header field per key,
// in key order, each with its folded lines and final CRLF, to be prepended
// to the message as it is. An error here is a local failure (of a key or a
// hardware signer), not a fault of the message. Calling Sign again returns
// the same result.
func (s *Signer) Sign() ([]string, error) {
	if s.done {
		return s.sigs, s.err
	}
	s.done = true
	var errs []error
	for i, ms := range s.signers {
		// Close all of them even after a failure, to end every goroutine.
		if err := ms.Close(); err != nil {
			errs = append(errs, fmt.Errorf("dkim: signing with key %s: %w", keyName(s.keys[i]), err))
		}
	}
	if s.err = errors.Join(errs...); s.err != nil {
		return nil, s.err
	}
	s.sigs = make([]string, len(s.signers))
	for i, ms := range s.signers {
		s.sigs[i] = ms.Signature()
	}
	return s.sigs, nil
}

// Close releases the signer without needing the signatures, for use on
// error paths or with defer. It is a no-op after Sign.
func (s *Signer) Close() error {
	_, err := s.Sign()
	return err
}

// checkKey returns why k cannot sign, or nil.
func checkKey(k Key) error {
	if err := checkDomainName(k.Domain); err != nil {
		return fmt.Errorf("dkim: key %s: domain: %w", keyName(k), err)
	}
	if err := checkDomainName(k.Selector); err != nil {
		return fmt.Errorf("dkim: key %s: selector: %w", keyName(k), err)
	}
	if k.Signer == nil {
		return fmt.Errorf("dkim: key %s: no private key", keyName(k))
	}
	switch pub := k.Signer.Public().(type) {
	case *rsa.PublicKey:
		if bits := pub.N.BitLen(); bits < 1024 {
			return fmt.Errorf("dkim: key %s: RSA key of %d bits; at least 1024 are required (RFC 8301 section 3.2)", keyName(k), bits)
		}
	case ed25519.PublicKey:
	default:
		return fmt.Errorf("dkim: key %s: unsupported key type %T; use RSA or Ed25519", keyName(k), pub)
	}
	return nil
}

// checkDomainName checks the syntax of a signing domain or selector: dot
// separated labels of letters, digits and inner hyphens (RFC 6376 section
// 3.1 and 3.5, RFC 5321 section 4.1.2), so that neither can break the tag
// list of the signature.
func checkDomainName(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if len(s) > 253 {
		return errors.New("longer than 253 characters")
	}
	label := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if label == 0 || s[i-1] == '-' {
				return fmt.Errorf("%q has an empty label or one that ends with a hyphen", s)
			}
			label = 0
			continue
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' && label > 0:
		case c >= 0x80:
			return fmt.Errorf("%q is not ASCII; use the A-label (xn--) form", s)
		default:
			return fmt.Errorf("%q contains %s", s, quoteByte(c))
		}
		label++
		if label > 63 {
			return fmt.Errorf("%q has a label longer than 63 characters", s)
		}
	}
	if label == 0 || s[len(s)-1] == '-' {
		return fmt.Errorf("%q has an empty label or one that ends with a hyphen", s)
	}
	return nil
}

// keyName names a key in errors and logs: selector._domainkey.domain.
func keyName(k Key) string {
	return k.Selector + "._domainkey." + k.Domain
}

// Selectors lists the keys' selectors, for logs.
func Selectors(keys []Key) []string {
	s := make([]string, len(keys))
	for i, k := range keys {
		s[i] = k.Selector
	}
	return s
}
