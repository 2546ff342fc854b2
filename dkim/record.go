package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// RecordValue returns the DNS TXT record value that publishes pub:
// "v=DKIM1; k=rsa; p=<base64 of the DER SubjectPublicKeyInfo>" for an RSA
// key (RFC 6376 section 3.6.1) and "v=DKIM1; k=ed25519; p=<base64 of the
// 32-byte key>" for an Ed25519 key (RFC 8463 section 4.2).
func RecordValue(pub crypto.PublicKey) (string, error) {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if bits := pub.N.BitLen(); bits < 1024 {
			return "", fmt.Errorf("dkim: RSA key of %d bits; at least 1024 are required (RFC 8301 section 3.2)", bits)
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", fmt.Errorf("dkim: encoding the RSA public key: %w", err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return "", fmt.Errorf("dkim: Ed25519 public key of %d bytes, want %d", len(pub), ed25519.PublicKeySize)
		}
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub), nil
	default:
		return "", fmt.Errorf("dkim: unsupported public key type %T; use RSA or Ed25519", pub)
	}
}

// Record is a parsed DKIM key record (RFC 6376 section 3.6.1).
type Record struct {
	Version string // v=, "" when absent
	KeyType string // k=: "rsa" (the default) or "ed25519"
	// Key is the public key of p=, *rsa.PublicKey or ed25519.PublicKey;
	// nil when p= is empty, which means the key was revoked.
	Key crypto.PublicKey
	// HashAlgorithms (h=) lists the hash algorithms the key may be used
	// with; nil means all.
	HashAlgorithms []string
	// ServiceTypes (s=) lists the services the key is for; "*" (the
	// default) or "email" allow email.
	ServiceTypes []string
	// Flags (t=): "y" says the domain is testing DKIM, "s" forbids
	// subdomains in i=.
	Flags []string
}

// ParseRecord parses the value of a DKIM key record, the strings of the TXT
// record joined with nothing between them (RFC 6376 section 3.6.2.2). It
// allows white space, including folding, around tags and values and inside
// p=. Unknown tags are ignored (RFC 6376 section 3.2). It fails on broken
// tag syntax, a duplicate tag, a v= other than "DKIM1" or not first, a
// missing p=, an unknown key type and a p= that does not hold a key of that
// type.
func ParseRecord(txt string) (Record, error) {
	tags, err := parseTagList(txt)
	if err != nil {
		return Record{}, err
	}
	r := Record{KeyType: "rsa", ServiceTypes: []string{"*"}}
	var p string
	havePublicKey := false
	for i, t := range tags {
		switch t.name {
		case "v":
			if i != 0 {
				return Record{}, errors.New("dkim: key record: v= must be the first tag")
			}
			if t.value != "DKIM1" {
				return Record{}, fmt.Errorf("dkim: key record: version %q, want DKIM1", t.value)
			}
			r.Version = t.value
		case "k":
			r.KeyType = t.value
		case "p":
			p, havePublicKey = t.value, true
		case "h":
			r.HashAlgorithms = splitColonList(t.value)
		case "s":
			r.ServiceTypes = splitColonList(t.value)
		case "t":
			r.Flags = splitColonList(t.value)
		}
	}
	if r.KeyType != "rsa" && r.KeyType != "ed25519" {
		return Record{}, fmt.Errorf("dkim: key record: unsupported key type k=%s", r.KeyType)
	}
	if !havePublicKey {
		return Record{}, errors.New("dkim: key record: no p= tag")
	}
	p = strings.Join(strings.FieldsFunc(p, isFWS), "")
	if p == "" {
		return r, nil // revoked
	}
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return Record{}, fmt.Errorf("dkim: key record: p= is not valid base64: %w", err)
	}
	r.Key, err = parsePublicKey(r.KeyType, der)
	if err != nil {
		return Record{}, fmt.Errorf("dkim: key record: %w", err)
	}
	return r, nil
}

// Revoked reports whether the record revokes its key (an empty p=).
func (r Record) Revoked() bool {
	return r.Key == nil
}

// Matches reports whether a verifier would check a signature by the key
// pub with this record: same key, SHA-256 allowed, email among the services.
func (r Record) Matches(pub crypto.PublicKey) bool {
	key, ok := r.Key.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !key.Equal(pub) {
		return false
	}
	if r.HashAlgorithms != nil && !contains(r.HashAlgorithms, "sha256") {
		return false
	}
	return contains(r.ServiceTypes, "*") || contains(r.ServiceTypes, "email")
}

func parsePublicKey(keyType string, der []byte) (crypto.PublicKey, error) {
	switch keyType {
	case "ed25519":
		if len(der) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("Ed25519 key of %d bytes, want %d (RFC 8463 section 4.2)", len(der), ed25519.PublicKeySize)
		}
		return ed25519.PublicKey(der), nil
	default: // rsa
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			// RFC 6376 section 3.6.1 says RSAPublicKey but its example and
			// most publishers use SubjectPublicKeyInfo (erratum 3017):
			// verifiers accept both, and so does this.
			pkcs1, err1 := x509.ParsePKCS1PublicKey(der)
			if err1 != nil {
				return nil, fmt.Errorf("p= is not an RSA public key: %w", err)
			}
			pub = pkcs1
		}
		rsaPub, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("k=rsa but p= holds a %T", pub)
		}
		return rsaPub, nil
	}
}

// tag is one tag=value pair of a tag list.
type tag struct{ name, value string }

// parseTagList parses an RFC 6376 section 3.2 tag list: tag=value pairs
// separated by semicolons, with optional white space around names and
// values and an optional final semicolon.
func parseTagList(s string) ([]tag, error) {
	var tags []tag
	seen := make(map[string]bool)
	for spec := range strings.SplitSeq(s, ";") {
		if strings.TrimFunc(spec, isFWS) == "" {
			continue
		}
		name, value, ok := strings.Cut(spec, "=")
		if !ok {
			return nil, fmt.Errorf("dkim: key record: %q is not a tag=value pair", strings.TrimFunc(spec, isFWS))
		}
		name = strings.TrimFunc(name, isFWS)
		if !isTagName(name) {
			return nil, fmt.Errorf("dkim: key record: invalid tag name %q", name)
		}
		if seen[name] {
			return nil, fmt.Errorf("dkim: key record: duplicate tag %s= (RFC 6376 section 3.2)", name)
		}
		seen[name] = true
		tags = append(tags, tag{name, strings.TrimFunc(value, isFWS)})
	}
	return tags, nil
}

// isTagName reports whether s is ALPHA *ALNUMPUNC (RFC 6376 section 3.2).
func isTagName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !alpha && (i == 0 || !(c >= '0' && c <= '9' || c == '_')) {
			return false
		}
	}
	return s != ""
}

func splitColonList(s string) []string {
	var l []string
	for v := range strings.SplitSeq(s, ":") {
		if v = strings.TrimFunc(v, isFWS); v != "" {
			l = append(l, v)
		}
	}
	return l
}

func isFWS(r rune) bool {
	return r == ' ' || r == '\t' || r == '\r' || r == '\n'
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}
