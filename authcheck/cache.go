package authcheck

import (
	"sync"
	"time"
)

// Bounds on how long a result derived from DNS is kept. The floor spares
// the DNS when a domain publishes very short TTLs (or when a negative
// answer's TTL is unknown); the ceiling makes a fixed record take effect
// within the hour whatever its TTL.
const (
	MinCacheTTL = time.Minute
	MaxCacheTTL = time.Hour
)

// maxCacheEntries bounds memory: a relay sends for a handful of domains
// from one or two addresses, so this is never reached in normal use.
const maxCacheEntries = 4096

// cache holds results until they expire. It is safe for concurrent use.
type cache[V any] struct {
	now func() time.Time

	mu      sync.Mutex
	entries map[string]cacheEntry[V]
}

type cacheEntry[V any] struct {
	v       V
	expires time.Time
}

func newCache[V any](now func() time.Time) *cache[V] {
	return &cache[V]{now: now, entries: make(map[string]cacheEntry[V])}
}

func (c *cache[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !c.now().Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// put keeps v for ttl, clamped to [MinCacheTTL, MaxCacheTTL].
func (c *cache[V]) put(key string, v V, ttl time.Duration) {
	ttl = min(max(ttl, MinCacheTTL), MaxCacheTTL)
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.entries) >= maxCacheEntries {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		// Still full: drop any one; a miss costs only a lookup.
		for k := range c.entries {
			if len(c.entries) < maxCacheEntries {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[key] = cacheEntry[V]{v, now.Add(ttl)}
}

// ttlOf turns what a Tracker saw into how long to keep the result: the
// smallest TTL of the records used, or the floor when a lookup found
// nothing (its negative TTL is not known) or no record was seen at all.
func ttlOf(ttl time.Duration, records, negative bool) time.Duration {
	if !records || negative {
		return MinCacheTTL
	}
	return ttl
}
