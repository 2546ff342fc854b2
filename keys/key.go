package keys

import (
	"crypto"
	"errors"
	"time"

	"dkimrelay/dkim"
)

// Key is one DKIM key of the store.
type Key struct {
	Domain, Selector string
	Algorithm        Algorithm
	State            State
	// Created is when the key was generated. Activated is when it last
	// became active (zero while pending). Retired is when it became
	// retiring (zero unless retiring).
	Created, Activated, Retired time.Time
	// Signer is the private key.
	Signer crypto.Signer
}

var errNoSigner = errors.New("keys: the private key is not loaded")

// Public returns the public half of the key, or nil if the private key could
// not be loaded.
func (k *Key) Public() crypto.PublicKey {
	if k.Signer == nil {
		return nil
	}
	return k.Signer.Public()
}

// RecordValue is the TXT record value to publish, "v=DKIM1; k=...; p=...".
func (k *Key) RecordValue() (string, error) {
	if k.Signer == nil {
		return "", errNoSigner
	}
	return dkim.RecordValue(k.Public())
}

// RecordName is the DNS name the record is published at (RFC 6376 section
// 3.6.2.1), without the final dot.
func (k *Key) RecordName() string {
	return k.Selector + "._domainkey." + k.Domain
}

// Zone is the TXT record in zone-file form, ready to paste.
func (k *Key) Zone() (string, error) {
	v, err := k.RecordValue()
	if err != nil {
		return "", err
	}
	return dkim.ZoneRecord(k.Selector, k.Domain, v), nil
}

// DKIM is the key as the signer takes it.
func (k *Key) DKIM() dkim.Key {
	return dkim.Key{Domain: k.Domain, Selector: k.Selector, Signer: k.Signer}
}

// RemovableAfter is the time after which a retiring key may be pruned and
// its DNS record deleted: mail signed just before retirement has had
// retireAfter to be delivered and verified. It is zero for keys that are not
// retiring.
func (k *Key) RemovableAfter(retireAfter time.Duration) time.Time {
	if k.State != Retiring {
		return time.Time{}
	}
	return k.Retired.Add(retireAfter)
}
