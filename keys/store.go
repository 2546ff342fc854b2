package keys

import (
	"cmp"
	"crypto"
	"crypto/x509"
	"dkimrelay/internal/secretfile"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Store is the key store in one folder. Its methods are safe for concurrent
// use, also with other processes using the same folder.
type Store struct {
	dir string
	// newSigner makes private keys; tests replace it to avoid slow RSA
	// generation.
	newSigner func(Algorithm) (crypto.Signer, error)
}

// Open opens the store in dir, normally <data_dir>/keys, creating it with
// mode 0700 if it does not exist.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keys: opening store: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("keys: opening store: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("keys: opening store: %s is not a folder", dir)
	}
	return &Store{dir: dir, newSigner: newSigner}, nil
}

// Dir is the store's folder.
func (s *Store) Dir() string { return s.dir }

func (s *Store) pemPath(domain, selector string) string {
	return filepath.Join(s.dir, domain, selector+pemSuffix)
}

func (s *Store) metaPath(domain, selector string) string {
	return filepath.Join(s.dir, domain, selector+metaSuffix)
}

// domainNames lists the domain folders, sorted. Entries that are not
// canonical domain names (a README, an editor's backup) are not ours and are
// ignored.
func (s *Store) domainNames() []string {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if d, err := normalizeDomain(e.Name()); err == nil && d == e.Name() {
			names = append(names, d)
		}
	}
	return names
}

// selectors lists the selectors of domain that have metadata, sorted.
func (s *Store) selectors(domain string) []string {
	entries, err := os.ReadDir(filepath.Join(s.dir, domain))
	if err != nil {
		return nil
	}
	var sels []string
	for _, e := range entries {
		sel, ok := strings.CutSuffix(e.Name(), metaSuffix)
		if !ok {
			continue
		}
		if n, err := normalizeSelector(sel, domain); err == nil && n == sel {
			sels = append(sels, sel)
		}
	}
	slices.Sort(sels)
	return sels
}

func notFound(domain, selector string) error {
	return &keyError{ErrNotFound, fmt.Sprintf("%s has no key with selector %s; see `dkimrelay keys list`", domain, selector)}
}

// loadMeta reads the metadata of one key; the returned Key has no Signer.
func (s *Store) loadMeta(domain, selector string) (*Key, error) {
	path := s.metaPath(domain, selector)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFound(domain, selector)
	}
	if err != nil {
		return nil, s.unreadable(domain, selector, path, err)
	}
	k, err := decodeMetadata(b, domain, selector)
	if err != nil {
		return nil, &DamageError{
			Domain: domain, Selector: selector, Path: path,
			Problem: err.Error(),
			Fix:     s.restoreFix(domain, selector, path),
		}
	}
	return k, nil
}

// loadSigner reads the private key of k and checks it is safe and matches
// the metadata.
func (s *Store) loadSigner(k *Key) (crypto.Signer, error) {
	path := s.pemPath(k.Domain, k.Selector)
	damaged := func(problem, fix string, err error) error {
		return &DamageError{Domain: k.Domain, Selector: k.Selector, Path: path, Problem: problem, Fix: fix, Err: err}
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		// A Remove or Prune running now deletes the metadata first, then
		// the key: if the metadata is gone too, the key was removed.
		if !exists(s.metaPath(k.Domain, k.Selector)) {
			return nil, notFound(k.Domain, k.Selector)
		}
		return nil, damaged("is missing", s.restoreFix(k.Domain, k.Selector, path), err)
	}
	if err != nil {
		return nil, s.unreadable(k.Domain, k.Selector, path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, s.unreadable(k.Domain, k.Selector, path, err)
	}
	// A private key others can read is a key others may sign with; one
	// others can write is a key others may replace. Refuse both, as ssh
	// does, rather than sign with a key that may be compromised.
	var pe *secretfile.PermissionError
	if errors.As(secretfile.Check(path, fi, secretfile.OwnerOnly), &pe) {
		return nil, damaged(pe.Problem(), pe.Fix()+", and replace the key if others may have copied it", nil)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, s.unreadable(k.Domain, k.Selector, path, err)
	}
	fix := s.restoreFix(k.Domain, k.Selector, path)
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, damaged("is not valid PEM", fix, nil)
	}
	if block.Type != "PRIVATE KEY" {
		return nil, damaged(fmt.Sprintf("holds a %q PEM block, not \"PRIVATE KEY\" (PKCS #8)", block.Type),
			"convert it with `openssl pkcs8 -topk8 -nocrypt`, or "+fix, nil)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, damaged("is not a valid PKCS #8 private key", fix, err)
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, damaged(fmt.Sprintf("holds a %T key, which cannot sign", parsed), fix, nil)
	}
	alg, err := algorithmOf(signer)
	if err != nil {
		return nil, damaged("holds "+err.Error(), fix, nil)
	}
	if alg != k.Algorithm {
		return nil, damaged(fmt.Sprintf("holds an %s key but its metadata says %s", alg, k.Algorithm), fix, nil)
	}
	return signer, nil
}

func (s *Store) unreadable(domain, selector, path string, err error) error {
	return &DamageError{
		Domain: domain, Selector: selector, Path: path,
		Problem: "cannot be read",
		Fix:     "check that dkimrelay runs as the user owning it",
		Err:     err,
	}
}

// restoreFix is the advice for a key file that is corrupt or missing.
func (s *Store) restoreFix(domain, selector, path string) string {
	other := s.metaPath(domain, selector)
	if path == other {
		other = s.pemPath(domain, selector)
	}
	return fmt.Sprintf("restore it from a backup, or delete it and %s to drop the key", other)
}

// load reads one key with its private key. On a damaged private key it
// returns the key's metadata (without Signer) along with the error.
func (s *Store) load(domain, selector string) (*Key, error) {
	k, err := s.loadMeta(domain, selector)
	if err != nil {
		return nil, err
	}
	signer, err := s.loadSigner(k)
	if err != nil {
		return k, err
	}
	k.Signer = signer
	return k, nil
}

// Get returns one key.
func (s *Store) Get(domain, selector string) (*Key, error) {
	domain, err := normalizeDomain(domain)
	if err != nil {
		return nil, err
	}
	selector, err = normalizeSelector(selector, domain)
	if err != nil {
		return nil, err
	}
	k, err := s.load(domain, selector)
	if err != nil {
		return nil, err
	}
	return k, nil
}

// List returns every sound key, sorted by domain then selector, and one
// error for each key that cannot be used (mostly *DamageError). The caller
// keeps using the sound keys and reports the errors.
func (s *Store) List() ([]*Key, []error) {
	if _, err := os.Stat(s.dir); err != nil {
		return nil, []error{fmt.Errorf("keys: reading store: %w", err)}
	}
	var keys []*Key
	var errs []error
	for _, d := range s.domainNames() {
		ks, es := s.listDomain(d)
		keys = append(keys, ks...)
		errs = append(errs, es...)
	}
	return keys, errs
}

func (s *Store) listDomain(domain string) ([]*Key, []error) {
	var keys []*Key
	var errs []error
	for _, sel := range s.selectors(domain) {
		k, err := s.load(domain, sel)
		switch {
		case errors.Is(err, ErrNotFound):
			// Removed since the folder was read.
		case err != nil:
			errs = append(errs, err)
		default:
			keys = append(keys, k)
		}
	}
	return keys, errs
}

// Domains lists the domains that have at least one key file, sorted.
func (s *Store) Domains() []string {
	var ds []string
	for _, d := range s.domainNames() {
		if len(s.selectors(d)) > 0 {
			ds = append(ds, d)
		}
	}
	return ds
}

// Active returns the sound active keys of domain: RSA first, then Ed25519,
// each by selector. Normally that is at most one key of each type.
func (s *Store) Active(domain string) []*Key {
	domain, err := normalizeDomain(domain)
	if err != nil {
		return nil
	}
	keys, _ := s.listDomain(domain)
	keys = slices.DeleteFunc(keys, func(k *Key) bool { return k.State != Active })
	sortSigning(keys)
	return keys
}

// sortSigning orders keys of one domain as they sign: RSA first, the
// signature every verifier understands, then Ed25519.
func sortSigning(keys []*Key) {
	slices.SortFunc(keys, func(a, b *Key) int {
		return cmp.Or(
			cmp.Compare(a.Domain, b.Domain),
			cmp.Compare(a.Algorithm.typeOrder(), b.Algorithm.typeOrder()),
			cmp.Compare(a.Selector, b.Selector))
	})
}
