package keys

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"time"
)

// stamp is how times are stored: UTC, whole seconds, so the metadata reads
// well and a stored time equals the one returned.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// Generate makes a new key for domain in state Pending. An empty alg means
// DefaultAlgorithm. An empty selector derives one from now and the
// algorithm (s202611r, then s202611r2, ... if taken); a given selector must
// be a valid DNS name and unused in the domain (ErrExists).
func (s *Store) Generate(domain string, alg Algorithm, selector string, now time.Time) (*Key, error) {
	domain, err := normalizeDomain(domain)
	if err != nil {
		return nil, err
	}
	if alg == "" {
		alg = DefaultAlgorithm
	}
	if !alg.valid() {
		_, err := ParseAlgorithm(string(alg))
		return nil, err
	}
	if selector != "" {
		if selector, err = normalizeSelector(selector, domain); err != nil {
			return nil, err
		}
	}
	m, err := s.newMaterial(alg)
	if err != nil {
		return nil, err
	}
	var k *Key
	err = s.mutate(func() error {
		k, err = s.commitNew(domain, selector, m, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// material is a fresh private key, made before the store's lock is taken:
// RSA-4096 can take seconds, and other commands need not wait for it.
type material struct {
	alg    Algorithm
	signer crypto.Signer
	pem    []byte
}

func (s *Store) newMaterial(alg Algorithm) (*material, error) {
	signer, err := s.newSigner(alg)
	if err != nil {
		return nil, fmt.Errorf("keys: generating %s key: %w", alg, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return nil, fmt.Errorf("keys: encoding %s key: %w", alg, err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	return &material{alg: alg, signer: signer, pem: pemBytes}, nil
}

// commitNew writes m as a new pending key of the (normalized) domain; an
// empty selector is derived. The caller holds the lock.
func (s *Store) commitNew(domain, selector string, m *material, now time.Time) (*Key, error) {
	now = stamp(now)
	k := &Key{Domain: domain, Algorithm: m.alg, State: Pending, Created: now, Signer: m.signer}
	ddir := filepath.Join(s.dir, domain)
	if err := mkdirSync(ddir); err != nil {
		return nil, err
	}
	taken := func(sel string) bool {
		return exists(s.metaPath(domain, sel)) || exists(s.pemPath(domain, sel))
	}
	if selector == "" {
		// A derived name skips the selectors of removed keys as well: two
		// keys made in one month, the first pruned, must not share a
		// record name that DNS may still answer with the old key.
		k.Selector = deriveSelector(selectorBase(m.alg, now), func(sel string) bool {
			return taken(sel) || exists(filepath.Join(ddir, usedMarker+sel))
		})
	} else if taken(selector) {
		return nil, &keyError{ErrExists, fmt.Sprintf("%s already has a key with selector %s; choose another selector or leave it out", domain, selector)}
	} else {
		k.Selector = selector
	}
	if err := writeFileAtomic(ddir, k.Selector+pemSuffix, m.pem, 0o600); err != nil {
		return nil, err
	}
	// The metadata comes last: it is what makes the key exist.
	if err := s.writeMeta(k); err != nil {
		removeIfExists(s.pemPath(domain, k.Selector))
		return nil, err
	}
	return k, nil
}

func (s *Store) writeMeta(k *Key) error {
	b, err := encodeMetadata(k)
	if err != nil {
		return fmt.Errorf("keys: encoding metadata: %w", err)
	}
	return writeFileAtomic(filepath.Join(s.dir, k.Domain), k.Selector+metaSuffix, b, 0o600)
}

// Activate makes a key sign from now on and returns it, together with the
// keys it replaces: every other active key of the same type (RSA sizes are
// one type, Ed25519 another) becomes Retiring with Retired = now.
//
// Activating an active key changes nothing, except that it finishes an
// activation that was interrupted after the new key was marked active but
// before the old one was retired. Activating a retiring key is allowed: it
// is how an administrator rolls back to the previous key while its DNS
// record is still published (the CLI checks DNS before calling Activate). It
// becomes active again with Activated = now.
//
// The key must be sound; an other active key whose private key is damaged
// is still retired, and is returned without Signer.
func (s *Store) Activate(domain, selector string, now time.Time) (*Key, []*Key, error) {
	domain, err := normalizeDomain(domain)
	if err != nil {
		return nil, nil, err
	}
	if selector, err = normalizeSelector(selector, domain); err != nil {
		return nil, nil, err
	}
	now = stamp(now)
	var key *Key
	var retired []*Key
	err = s.mutate(func() error {
		k, err := s.load(domain, selector)
		if err != nil {
			return err
		}
		if k.State != Active {
			k.State = Active
			k.Activated = now
			k.Retired = time.Time{}
			// The new key is marked active before the old one is retired:
			// a crash in between leaves two keys signing, which is
			// harmless, rather than none, which would stop mail.
			if err := s.writeMeta(k); err != nil {
				return err
			}
		}
		key = k
		for _, sel := range s.selectors(domain) {
			if sel == selector {
				continue
			}
			old, err := s.loadMeta(domain, sel)
			if err != nil || old.State != Active || old.Algorithm.KeyType() != k.Algorithm.KeyType() {
				// Damaged metadata cannot be said to be active; List
				// reports it.
				continue
			}
			old.State = Retiring
			old.Retired = now
			if err := s.writeMeta(old); err != nil {
				return err
			}
			old.Signer, _ = s.loadSigner(old)
			retired = append(retired, old)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return key, retired, nil
}

// Prune removes the retiring keys whose grace period retireAfter has passed
// at now (see Key.RemovableAfter) and returns them, so that the caller can
// say which DNS records may be deleted. An empty domain prunes every
// domain. Keys with damaged files are left alone.
func (s *Store) Prune(domain string, retireAfter time.Duration, now time.Time) ([]*Key, error) {
	if retireAfter < 0 {
		return nil, &keyError{ErrInvalid, fmt.Sprintf("the grace period %v is negative; keys.retire_after must be zero or more", retireAfter)}
	}
	var domains []string
	if domain != "" {
		d, err := normalizeDomain(domain)
		if err != nil {
			return nil, err
		}
		domains = []string{d}
	}
	var pruned []*Key
	err := s.mutate(func() error {
		if domain == "" {
			domains = s.domainNames()
		}
		for _, d := range domains {
			keys, _ := s.listDomain(d)
			for _, k := range keys {
				if k.State != Retiring || now.Before(k.RemovableAfter(retireAfter)) {
					continue
				}
				if err := s.removeFiles(k.Domain, k.Selector); err != nil {
					return err
				}
				pruned = append(pruned, k)
			}
		}
		return nil
	})
	return pruned, err
}

// Remove deletes a pending key an administrator abandons. Active and
// retiring keys are refused (ErrState): their DNS record may be in use, and
// Prune removes them after the grace period. The private key need not be
// sound, so a damaged pending key can be removed.
func (s *Store) Remove(domain, selector string) error {
	domain, err := normalizeDomain(domain)
	if err != nil {
		return err
	}
	if selector, err = normalizeSelector(selector, domain); err != nil {
		return err
	}
	return s.mutate(func() error {
		k, err := s.loadMeta(domain, selector)
		if err != nil {
			return err
		}
		switch k.State {
		case Active:
			return &keyError{ErrState, fmt.Sprintf("key %s for %s is active and signs mail; activate its replacement first, and `dkimrelay keys prune` removes it after the grace period", selector, domain)}
		case Retiring:
			return &keyError{ErrState, fmt.Sprintf("key %s for %s is retiring; `dkimrelay keys prune` removes it once its grace period has passed", selector, domain)}
		}
		return s.removeFiles(domain, selector)
	})
}

// removeFiles deletes a key: metadata first, so that the key stops existing
// at once and a crash leaves only a private key that cleanup removes. A
// marker of the selector stays (usedMarker), written first.
func (s *Store) removeFiles(domain, selector string) error {
	if err := writeFileAtomic(filepath.Join(s.dir, domain), usedMarker+selector, nil, 0o600); err != nil {
		return err
	}
	if err := removeIfExists(s.metaPath(domain, selector)); err != nil {
		return err
	}
	if err := removeIfExists(s.pemPath(domain, selector)); err != nil {
		return err
	}
	return syncDir(filepath.Join(s.dir, domain))
}
