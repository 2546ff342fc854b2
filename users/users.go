// Package users keeps the submission logins: who may authenticate, with
// which password, and which sender addresses each login may use.
//
// The file is TOML, mode 0600, holding only password hashes (argon2id, or
// bcrypt hashes an administrator migrated from elsewhere). It is small and
// read whole; every change rewrites it atomically under a lock so two CLI
// commands at once cannot lose an edit.
package users

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"dkimrelay/internal/atomicfile"
	"dkimrelay/internal/secretfile"
)

var (
	// ErrNotFound: no such login.
	ErrNotFound = errors.New("no such user")
	// ErrExists: the login is already there.
	ErrExists = errors.New("user already exists")
	// ErrBadCredentials: unknown login or wrong password. The two are not
	// told apart, so that AUTH does not reveal which logins exist.
	ErrBadCredentials = errors.New("invalid credentials")
)

// User is one submission login.
type User struct {
	Name string `toml:"name"`
	// Hash is a PHC-format argon2id string or a bcrypt hash.
	Hash string `toml:"hash"`
	// Allow lists the senders this login may use: "addr@domain" or
	// "@domain" for every address of a domain.
	Allow []string `toml:"allow"`
	// Class is the login's traffic class; "" is Transactional (see
	// TrafficClass).
	Class Class `toml:"class,omitempty"`
}

// MaySend reports whether the login may use addr as MAIL FROM or From:.
// Domains compare without regard to ASCII case (RFC 5321 section 2.4), and
// so do local parts, since no mailbox provider distinguishes them; every
// other byte compares exactly. Unicode case folding would let a login
// allowed notifications@example.org send as a look-alike such as
// notification\u017f@example.org (LONG S folds to s, and KELVIN SIGN to k).
func (u *User) MaySend(addr string) bool {
	local, domain, ok := SplitAddress(addr)
	if !ok {
		return false
	}
	for _, a := range u.Allow {
		al, ad, _ := strings.Cut(a, "@")
		if !EqualFoldASCII(ad, domain) {
			continue
		}
		if al == "" || EqualFoldASCII(al, local) {
			return true
		}
	}
	return false
}

// EqualFoldASCII reports whether a and b are equal when ASCII letters are
// taken without regard to case; bytes outside ASCII must be identical.
func EqualFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// SplitAddress splits addr at its last "@".
func SplitAddress(addr string) (local, domain string, ok bool) {
	i := strings.LastIndexByte(addr, '@')
	if i <= 0 || i == len(addr)-1 {
		return "", "", false
	}
	return addr[:i], strings.TrimSuffix(addr[i+1:], "."), true
}

// ValidName checks a login name: printable ASCII without spaces or colons,
// so it survives SASL PLAIN and LOGIN and reads well in logs.
func ValidName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("login name %q must be 1 to 64 characters", name)
	}
	for _, r := range name {
		if r <= ' ' || r > '~' || r == ':' {
			return fmt.Errorf("login name %q may use only printable ASCII without spaces or colons", name)
		}
	}
	return nil
}

// ValidSender checks an --allow value.
func ValidSender(s string) error {
	local, domain, ok := strings.Cut(s, "@")
	if !ok || domain == "" || strings.ContainsAny(s, " <>\t") || strings.Contains(domain, "@") {
		return fmt.Errorf("sender %q must be addr@domain or @domain", s)
	}
	_ = local
	return nil
}

type file struct {
	Users []*User `toml:"user"`
}

// DB is a loaded users file.
type DB struct {
	byName map[string]*User
}

// Load reads the users file. A missing file is an empty DB. A file readable
// by group or others is refused: it holds password hashes.
func Load(path string) (*DB, error) {
	b, err := secretfile.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &DB{byName: map[string]*User{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the logins (they hold password hashes): %w", err)
	}
	var f file
	md, err := toml.NewDecoder(bytes.NewReader(b)).Decode(&f)
	if err != nil {
		return nil, fmt.Errorf("%s is damaged (%v): restore it from a backup or remove it and add the logins again", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("%s: unknown key %s", path, und[0])
	}
	db := &DB{byName: make(map[string]*User, len(f.Users))}
	for _, u := range f.Users {
		if err := ValidName(u.Name); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if _, err := parseHash(u.Hash); err != nil {
			return nil, fmt.Errorf("%s: user %s: %w", path, u.Name, err)
		}
		if _, err := ParseClass(string(u.Class)); err != nil {
			return nil, fmt.Errorf("%s: user %s: %w", path, u.Name, err)
		}
		db.byName[u.Name] = u
	}
	return db, nil
}

// Get returns the login called name.
func (db *DB) Get(name string) (*User, bool) {
	u, ok := db.byName[name]
	return u, ok
}

// List returns the logins sorted by name.
func (db *DB) List() []*User {
	l := make([]*User, 0, len(db.byName))
	for _, u := range db.byName {
		l = append(l, u)
	}
	sort.Slice(l, func(i, j int) bool { return l[i].Name < l[j].Name })
	return l
}

// Authenticate checks a password. An unknown login costs the same hashing
// work as a known one, so timing does not reveal which logins exist.
func (db *DB) Authenticate(name, password string) (*User, error) {
	u, ok := db.byName[name]
	if !ok {
		verify(dummyHash, password)
		return nil, ErrBadCredentials
	}
	if !verify(u.Hash, password) {
		return nil, ErrBadCredentials
	}
	return u, nil
}

func (db *DB) save(path string) error {
	var buf bytes.Buffer
	buf.WriteString("# dkimrelay submission logins; manage with `dkimrelay users`.\n\n")
	if err := toml.NewEncoder(&buf).Encode(file{Users: db.List()}); err != nil {
		return err
	}
	return atomicfile.Write(path, buf.Bytes(), 0o600)
}

// Update loads the users file under an exclusive lock, lets fn change it
// and writes it back atomically.
func Update(path string, fn func(db *DB) error) error {
	l, err := atomicfile.LockFile(path + ".lock")
	if err != nil {
		return err
	}
	defer l.Unlock()
	db, err := Load(path)
	if err != nil {
		return err
	}
	if err := fn(db); err != nil {
		return err
	}
	return db.save(path)
}

// Add creates a login.
func (db *DB) Add(name, password string, allow []string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if _, ok := db.byName[name]; ok {
		return fmt.Errorf("%w: %s", ErrExists, name)
	}
	if len(allow) == 0 {
		return errors.New("a login needs at least one --allow sender")
	}
	for _, a := range allow {
		if err := ValidSender(a); err != nil {
			return err
		}
	}
	h, err := Hash(password)
	if err != nil {
		return err
	}
	db.byName[name] = &User{Name: name, Hash: h, Allow: allow}
	return nil
}

// Remove deletes a login.
func (db *DB) Remove(name string) error {
	if _, ok := db.byName[name]; !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	delete(db.byName, name)
	return nil
}

// SetPassword replaces a login's password.
func (db *DB) SetPassword(name, password string) error {
	u, ok := db.byName[name]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	h, err := Hash(password)
	if err != nil {
		return err
	}
	u.Hash = h
	return nil
}
