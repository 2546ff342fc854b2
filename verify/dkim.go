package verify

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"

	msgauth "github.com/emersion/go-msgauth/dkim"

	"dkimrelay/authcheck"
)

// Kind says why a DKIM signature failed, or that it passed.
type Kind string

// Kinds of DKIM outcome.
const (
	Pass Kind = "pass"
	// BodyModified: the body hash (bh=) does not match the body.
	BodyModified Kind = "body-modified"
	// HeaderAdded: removing one header field makes the signature verify.
	HeaderAdded Kind = "header-added"
	// HeaderModified: the published key made the signature, but the
	// signed header fields differ from what it signed.
	HeaderModified Kind = "header-modified"
	// KeyMismatch: the published key did not make the signature.
	KeyMismatch Kind = "key-mismatch"
	// HeaderOrKey: the signature does not verify and the key type does
	// not let the two causes above be told apart (Ed25519).
	HeaderOrKey Kind = "header-modified-or-key-mismatch"
	// SelectorNotPublished: no key record at selector._domainkey.domain.
	SelectorNotPublished Kind = "selector-not-published"
	// KeyRevoked: the key record has an empty p=.
	KeyRevoked Kind = "key-revoked"
	// KeyInvalid: a record is published but is no usable DKIM key.
	KeyInvalid Kind = "key-invalid"
	// DNSFailure: the key record could not be looked up now.
	DNSFailure Kind = "dns-failure"
	// Expired: the signature's x= has passed.
	Expired Kind = "expired"
	// Malformed: the signature field itself is broken or refused.
	Malformed Kind = "malformed"
)

// Signature is the outcome of one DKIM-Signature field.
type Signature struct {
	Domain    string `json:"domain"`
	Selector  string `json:"selector"`
	Algorithm string `json:"algorithm"`
	Kind      Kind   `json:"result"`
	// Explanation says in words what went wrong and what to do; empty
	// for a pass.
	Explanation string `json:"explanation,omitempty"`
	// Detail is the verifier's own words.
	Detail string `json:"detail,omitempty"`
}

// maxSignatures bounds the work one message can cause.
const maxSignatures = 16

// keyAnswers remembers the key lookups of one check, so that the
// diagnosis reads the records the verifier saw and asks DNS once.
type keyAnswers struct {
	ctx    context.Context
	lookup authcheck.TXTLookup
	own    authcheck.TXTLookup // the relay's own records; may be nil
	mu     sync.Mutex
	txts   map[string][]string
	errs   map[string]error
}

func (k *keyAnswers) LookupTXT(name string) ([]string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if txts, ok := k.txts[name]; ok {
		return txts, k.errs[name]
	}
	txts, err := k.lookup(k.ctx, name)
	k.txts[name], k.errs[name] = txts, err
	return txts, err
}

func (v *Verifier) checkDKIM(ctx context.Context, m *message) ([]Signature, error) {
	keys := &keyAnswers{ctx: ctx, lookup: v.keyLookup(), own: v.OwnKeys, txts: map[string][]string{}, errs: map[string]error{}}
	verifs, err := verifyAll(m.bytes(-1), keys)
	if err != nil {
		return nil, fmt.Errorf("reading the message's signatures: %w", err)
	}
	var sigFields []int
	for i, f := range m.fields {
		if strings.EqualFold(f.name, "DKIM-Signature") {
			sigFields = append(sigFields, i)
		}
	}
	out := make([]Signature, len(verifs))
	for i, vf := range verifs {
		tags := parseSigTags(m.fields[sigFields[i]].value())
		s := Signature{Domain: tags["d"], Selector: tags["s"], Algorithm: tags["a"], Kind: Pass}
		if vf.Err != nil {
			s.Detail = vf.Err.Error()
			s.Kind, s.Explanation = diagnose(m, i, sigFields, tags, vf.Err, keys)
		}
		out[i] = s
	}
	return out, nil
}

func verifyAll(data []byte, keys *keyAnswers) ([]*msgauth.Verification, error) {
	verifs, err := msgauth.VerifyWithOptions(bytes.NewReader(data), &msgauth.VerifyOptions{
		LookupTXT:        keys.LookupTXT,
		MaxVerifications: maxSignatures,
	})
	if err == msgauth.ErrTooManySignatures {
		err = nil
	}
	return verifs, err
}
