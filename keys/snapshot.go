package keys

import (
	"maps"
	"slices"

	"dkimrelay/dkim"
)

// Snapshot is the signing keys of every domain, read once. It never changes
// and never touches the disk, so the signing path can use it from any
// goroutine; the relay takes a new one on reload and swaps it atomically
// (an atomic.Pointer[Snapshot]).
type Snapshot struct {
	signers map[string][]dkim.Key
	all     []*Key // every key read, in any state
}

// Snapshot reads the store into memory. Like List, it returns the damaged
// keys as errors and keeps the rest.
func (s *Store) Snapshot() (*Snapshot, []error) {
	keys, errs := s.List()
	return newSnapshot(keys), errs
}

func newSnapshot(keys []*Key) *Snapshot {
	active := slices.DeleteFunc(slices.Clone(keys), func(k *Key) bool { return k.State != Active })
	sortSigning(active)
	sn := &Snapshot{signers: make(map[string][]dkim.Key), all: keys}
	for _, k := range active {
		sn.signers[k.Domain] = append(sn.signers[k.Domain], k.DKIM())
	}
	return sn
}

// Signers returns the active keys of domain, RSA first, then Ed25519, each
// by selector; nil if there are none. The domain is matched without regard
// to case. The caller may modify the returned slice.
func (sn *Snapshot) Signers(domain string) []dkim.Key {
	if sn == nil {
		return nil
	}
	return slices.Clone(sn.signers[canonicalDomain(domain)])
}

// Keys returns every key the snapshot read, in any state, as the store
// lists them. The keys must not be modified.
func (sn *Snapshot) Keys() []*Key {
	if sn == nil {
		return nil
	}
	return slices.Clone(sn.all)
}

// HasActive reports whether domain has a key to sign with.
func (sn *Snapshot) HasActive(domain string) bool {
	return sn != nil && len(sn.signers[canonicalDomain(domain)]) > 0
}

// Domains lists the domains that have an active key, sorted.
func (sn *Snapshot) Domains() []string {
	if sn == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(sn.signers))
}
