package ingest

import (
	"slices"
	"strings"

	"dkimrelay/dkim"
	"dkimrelay/keys"
)

// Keyring is the signing keys in force at one moment: a snapshot of the key
// store and the sending domains of the configuration. It never changes;
// the relay makes a new one when it reloads, so a message signed with keys
// from one Keyring never mixes keys from before and after a reload.
type Keyring struct {
	keys    *keys.Snapshot
	domains []string // lower case
}

// NewKeyring returns the keyring of the active keys in snap, for mail from
// the given sending domains.
func NewKeyring(snap *keys.Snapshot, sendingDomains []string) *Keyring {
	k := &Keyring{keys: snap}
	for _, d := range sendingDomains {
		k.domains = append(k.domains, strings.ToLower(d))
	}
	return k
}

// Sending returns the active keys for mail that a login submits from
// domain: none when domain is not a configured sending domain or has no
// active key (the relay then refuses the mail).
func (k *Keyring) Sending(domain string) []dkim.Key {
	if k == nil || !slices.Contains(k.domains, strings.ToLower(domain)) {
		return nil
	}
	return k.keys.Signers(domain)
}

// CanSend reports whether Sending(domain) has a key, without copying them.
func (k *Keyring) CanSend(domain string) bool {
	return k != nil && slices.Contains(k.domains, strings.ToLower(domain)) && k.keys.HasActive(domain)
}

// Own returns the active keys for the relay's own mail (bounces, reports)
// from domain, the relay's hostname: any domain with an active key in the
// store, configured for sending or not. None leaves such mail unsigned.
func (k *Keyring) Own(domain string) []dkim.Key {
	if k == nil {
		return nil
	}
	return k.keys.Signers(domain)
}

// Domains lists the domains that have an active key, sorted.
func (k *Keyring) Domains() []string {
	if k == nil {
		return nil
	}
	return k.keys.Domains()
}
