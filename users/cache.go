package users

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
)

// Cache remembers, for a short while, that a login has just proven its
// password, so that the next AUTH with the same password skips argon2id.
//
// Mastodon, like most web applications, opens a new connection and logs in
// for every message it sends. Argon2id is meant to be slow (tens of
// milliseconds of CPU and 19 MiB of memory each time), which is right for
// a guess and wasteful for the hundredth correct login of a notification
// burst: without a cache it would cost far more than signing the message.
// Dovecot's auth_cache_ttl solves the same problem the same way.
//
// What is kept is not the password: each entry holds an HMAC-SHA256 of
// the password under a random key made when the cache is, which lives only
// in memory and is never written anywhere; the stored hash the password
// was checked against, so that a password change (a users file reload)
// makes the entry useless at once; and an expiry time. Only successful
// logins are remembered. A wrong password never matches an entry and so
// pays the full argon2id price, which keeps guessing as slow as before and
// the answer time of a failure the same whether or not an entry exists.
//
// A zero TTL turns the cache off.
type Cache struct {
	ttl time.Duration
	now func() time.Time
	key [32]byte

	mu      sync.Mutex
	entries map[string]cacheEntry
	// flights holds, for each login and password being verified, a
	// channel closed when the verification ends: the connections of a
	// burst that log in at the same moment wait for the first one's
	// answer rather than each running argon2id.
	flights map[string]chan struct{}
}

type cacheEntry struct {
	hash    string // the User.Hash the password was verified against
	mac     [sha256.Size]byte
	expires time.Time
}

// NewCache returns a cache keeping a verified login for ttl.
func NewCache(ttl time.Duration) *Cache {
	c := &Cache{ttl: ttl, now: time.Now, entries: map[string]cacheEntry{}, flights: map[string]chan struct{}{}}
	if _, err := rand.Read(c.key[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return c
}

// Authenticate checks name and password against db like DB.Authenticate,
// answering from the cache when this exact password was verified for this
// login, against its current hash, less than the TTL ago; cached says
// which. A nil Cache passes every call to db.
func (c *Cache) Authenticate(db *DB, name, password string) (u *User, cached bool, err error) {
	if c == nil || c.ttl <= 0 {
		u, err = db.Authenticate(name, password)
		return u, false, err
	}
	mac := c.mac(name, password)
	known, ok := db.Get(name)
	if !ok {
		u, err = db.Authenticate(name, password) // the same work as for a known login
		return u, false, err
	}
	key := name + "\x00" + string(mac[:])
	c.mu.Lock()
	for {
		if c.hitLocked(name, known.Hash, mac) {
			c.mu.Unlock()
			return known, true, nil
		}
		wait, ok := c.flights[key]
		if !ok {
			break
		}
		// The same login and password are being verified: wait for
		// that answer. If it was a refusal, there is still no entry
		// and this call verifies in full, so wrong guesses stay slow.
		c.mu.Unlock()
		<-wait
		c.mu.Lock()
	}
	done := make(chan struct{})
	c.flights[key] = done
	c.mu.Unlock()

	u, err = db.Authenticate(name, password)

	c.mu.Lock()
	if err == nil {
		c.pruneLocked()
		c.entries[name] = cacheEntry{hash: u.Hash, mac: mac, expires: c.now().Add(c.ttl)}
	}
	delete(c.flights, key)
	close(done)
	c.mu.Unlock()
	if err != nil {
		return nil, false, err
	}
	return u, false, nil
}

func (c *Cache) hitLocked(name, hash string, mac [sha256.Size]byte) bool {
	e, ok := c.entries[name]
	if !ok || e.hash != hash || !c.now().Before(e.expires) {
		return false
	}
	return hmac.Equal(e.mac[:], mac[:])
}

// pruneLocked drops expired entries, so that logins that stopped sending
// do not stay in memory; there is at most one entry per login, and the
// users file bounds those.
func (c *Cache) pruneLocked() {
	now := c.now()
	for name, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, name)
		}
	}
}

// mac binds the password to the login: the same password under two logins
// gives two unrelated values.
func (c *Cache) mac(name, password string) [sha256.Size]byte {
	h := hmac.New(sha256.New, c.key[:])
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write([]byte(password))
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}
