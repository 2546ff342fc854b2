package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
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
// Every key signs with relaxed/relaxed canonicalization and SHA-256, so the
// body is canonicalized and hashed once, in the writing goroutine, and
// shared by all keys (RFC 6376 section 3.7: the body hash does not depend
// on the key). Nothing of the body is buffered beyond the line breaks at
// its end, which relaxed canonicalization must hold back until it knows
// whether text follows. The output is byte for byte what go-msgauth's
// signer produced before: the same tag order and folding.
type Signer struct {
	keys   []Key
	fields []field  // the header as it was at NewSigner
	names  []string // h=
	body   relaxedBody
	now    func() time.Time
	done   bool
	sigs   []string
	err    error
	outBuf *[]byte // the body's buffer, from bodyBufs until Sign or Close
}

// bodyBufs recycles the buffers of canonical body bytes from one message
// to the next.
var bodyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2*hashChunk); return &b }}

// release gives the body's buffer back, once the body is hashed.
func (s *Signer) release() {
	if s.outBuf != nil {
		bodyBufs.Put(s.outBuf)
		s.outBuf = nil
		s.body.out = nil
	}
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
	s := &Signer{keys: keys, fields: append([]field(nil), h.fields...), names: names, now: time.Now}
	s.body.h = sha256.New()
	s.outBuf = bodyBufs.Get().(*[]byte)
	s.body.out = (*s.outBuf)[:0]
	return s, nil
}

// Write hashes the next bytes of the message body.
func (s *Signer) Write(p []byte) (int, error) {
	if s.done {
		return 0, errors.New("dkim: write after Sign or Close")
	}
	return s.body.Write(p)
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
	sum, err := s.body.sum()
	s.release()
	if err != nil {
		s.err = err
		return nil, err
	}
	bh := base64.StdEncoding.EncodeToString(sum)
	buf := scratch.Get().(*[]byte)
	defer scratch.Put(buf)
	// The canonical header fields the signatures cover, picked as a
	// verifier picks them: for each name in h=, the next instance from
	// the bottom up; an oversigned name finds none and adds nothing (RFC
	// 6376 section 5.4.2). picked counts the instances taken of each
	// name, at the name's first place in h=.
	hashed := (*buf)[:0]
	var pickedArr [32]int
	var picked []int
	if len(s.names) <= len(pickedArr) {
		picked = pickedArr[:len(s.names)]
	} else {
		picked = make([]int, len(s.names))
	}
	for n, name := range s.names {
		first := n
		for j := range n {
			if strings.EqualFold(s.names[j], name) {
				first = j
				break
			}
		}
		skip := picked[first]
		for i := len(s.fields) - 1; i >= 0; i-- {
			if !strings.EqualFold(strings.TrimSpace(s.fields[i].name), name) {
				continue
			}
			if skip == 0 {
				hashed = appendRelaxedHeader(hashed, s.fields[i].raw)
				picked[first]++
				break
			}
			skip--
		}
	}
	t := strconv.FormatInt(s.now().Unix(), 10)
	h := strings.Join(s.names, ":")
	var errs []error
	sigs := make([]string, len(s.keys))
	for i, k := range s.keys {
		var sig string
		sig, hashed, err = signOne(k, hashed, bh, t, h)
		if err != nil {
			errs = append(errs, fmt.Errorf("dkim: signing with key %s: %w", keyName(k), err))
			continue
		}
		sigs[i] = sig
	}
	*buf = hashed[:0]
	if s.err = errors.Join(errs...); s.err != nil {
		return nil, s.err
	}
	s.sigs = sigs
	return s.sigs, nil
}

// scratch recycles the buffer Sign builds the signed data in.
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// sigTag is one tag of a DKIM-Signature field.
type sigTag struct{ name, value string }

// signOne makes one key's DKIM-Signature field (RFC 6376 section 3.5): the
// tags with b= empty are canonicalized and hashed after the signed header
// fields, headers (section 3.7), and the hash is signed: with
// RSASSA-PKCS1-v1_5, or with Ed25519 over the SHA-256 hash (RFC 8463
// section 3). It may grow headers' buffer, which it returns with the
// same contents.
func signOne(k Key, headers []byte, bh, t, h string) (string, []byte, error) {
	opts := crypto.Hash(crypto.SHA256)
	a := ""
	switch k.Signer.Public().(type) {
	case *rsa.PublicKey:
		a = "rsa-sha256"
	case ed25519.PublicKey:
		a = "ed25519-sha256"
		opts = crypto.Hash(0) // PureEdDSA of the hash
	}
	// The tags other than b=, in name order.
	tags := [...]sigTag{{"a", a}, {"bh", bh}, {"c", "relaxed/relaxed"}, {"d", k.Domain}, {"h", h}, {"s", k.Selector}, {"t", t}, {"v", "1"}}
	list := tags[:]
	if a == "" {
		list = tags[1:]
	}
	n := len(headers)
	field := appendSignature(headers[n:], list, nil)
	data := appendRelaxedHeader(field[len(field):], field)
	data = data[:len(data)-len(crlf)]
	// headers and the canonical field, contiguous when the buffer had
	// room for both.
	signed := append(headers, data...)
	sum := sha256.Sum256(signed)
	sig, err := k.Signer.Sign(rand.Reader, sum[:], opts)
	if err != nil {
		return "", signed[:n], err
	}
	b := base64.StdEncoding.AppendEncode(signed[len(signed):], sig)
	out := appendSignature(b[len(b):], list, b)
	return string(out), signed[:n], nil
}

// appendSignature appends the DKIM-Signature field as go-msgauth writes it:
// the tags other than b= in name order, wrapped before a line would pass
// 75 characters, then b= on lines of its own, cut every 75 characters.
func appendSignature(out []byte, tags []sigTag, b []byte) []byte {
	out = append(out, "DKIM-Signature:"...)
	line := 0 // the length of the current line
	for _, t := range tags {
		if 3+line+len(t.value)+len(t.name) > 75 {
			out = append(out, crlf...)
			line = 0
		}
		out = append(out, ' ')
		out = append(out, t.name...)
		out = append(out, '=')
		out = append(out, t.value...)
		out = append(out, ';')
		line += len(t.name) + len(t.value) + 3
	}
	out = append(out, crlf...)
	// " b=" then b, in pieces of 75 characters.
	const lead = " b="
	for p, total := 0, len(lead)+len(b); ; {
		if p > 0 {
			out = append(out, crlf+" "...)
		}
		q := min(p+75, total)
		for i := p; i < q && i < len(lead); i++ {
			out = append(out, lead[i])
		}
		out = append(out, b[max(p-len(lead), 0):q-len(lead)]...)
		p = q
		if p == total {
			break
		}
	}
	return append(out, crlf...)
}

// Close releases the signer without needing the signatures, for use on
// error paths or with defer. It is a no-op after Sign.
func (s *Signer) Close() error {
	if s.done {
		return s.err
	}
	s.done = true
	s.release()
	return nil
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
