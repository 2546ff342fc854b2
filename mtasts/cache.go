package mtasts

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"dkimrelay/events"
	"dkimrelay/resolver"
)

// Resolver is the DNS the cache needs; *resolver.Resolver satisfies it.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Defaults for Options.
const (
	DefaultTimeout = 30 * time.Second
	// DefaultRecheck is how long the answer for _mta-sts.DOMAIN is
	// reused before it is asked again: a policy lookup is paid once per
	// domain in that time, not per message.
	DefaultRecheck = 5 * time.Minute
	// refreshAfter caps how old a cached policy gets before it is
	// fetched again even though its id did not change, so it is renewed
	// well before max_age runs out (RFC 8461 section 5.1).
	refreshAfter = 24 * time.Hour
)

// Options configure a Cache.
type Options struct {
	// Dir keeps policies across restarts (RFC 8461 section 5.1: a cached
	// policy applies while the policy host is down); "" keeps them in
	// memory only.
	Dir string
	// ReadOnly uses the policies kept in Dir but never writes there:
	// for commands run beside the relay, as another user.
	ReadOnly bool
	Resolver Resolver
	RootCAs  *x509.CertPool // verify policy hosts; nil: the system roots
	Port     int            // of https://mta-sts.DOMAIN/: delivery.mta_sts_port
	Timeout  time.Duration  // of one fetch; default 30s
	Recheck  time.Duration  // default DefaultRecheck
	Logger   *slog.Logger   // default: discard
	Now      func() time.Time
}

// Cache finds the policy of a domain, fetching it when its id changed,
// when none is cached or when the cached one is due for renewal, and
// keeping it durably. It is safe for concurrent use; concurrent lookups
// for one domain wait for one fetch.
type Cache struct {
	opts  Options
	fetch *fetcher
	store *store

	mu      sync.Mutex
	domains map[string]*entry
}

type entry struct {
	mu      sync.Mutex // held across a refresh
	loaded  bool       // cached read from disk
	cached  *Stored
	checked time.Time // when _mta-sts was last asked
	answer  Lookup    // the answer given since
}

// Lookup is what a domain's policy is now, and how that was found.
type Lookup struct {
	Policy *Policy // nil: the domain has no policy in force
	Stored *Stored // the kept policy behind Policy; nil when none
	// Source says where Policy came from: "fetched", "cache", or "" for
	// no policy.
	Source string
	// Problem explains what went wrong on the way, when anything did:
	// why there is no policy, or why a cached one applies.
	Problem string
}

// New returns a Cache; Dir is created when missing.
func New(opts Options) (*Cache, error) {
	if opts.Resolver == nil {
		return nil, errors.New("mtasts: a Resolver is required")
	}
	if opts.Port < 1 || opts.Port > 65535 {
		return nil, errors.New("mtasts: no port given: pass delivery.mta_sts_port")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Recheck <= 0 {
		opts.Recheck = DefaultRecheck
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	st, err := openStore(opts.Dir, opts.ReadOnly)
	if err != nil {
		return nil, err
	}
	return &Cache{
		opts:    opts,
		fetch:   newFetcher(opts.Resolver, opts.RootCAs, opts.Port, opts.Timeout),
		store:   st,
		domains: map[string]*entry{},
	}, nil
}

// URL is where domain's policy file is fetched from.
func (c *Cache) URL(domain string) string { return c.fetch.url(domain) }

// Policy returns domain's policy in force (RFC 8461 section 5): the
// record at _mta-sts.DOMAIN names the policy's id; a policy is fetched
// when none is cached, the id changed or the cached one is due for
// renewal. A fetch that fails leaves the cached policy in force until it
// expires; with none cached there is no policy.
func (c *Cache) Policy(ctx context.Context, domain string) Lookup {
	if !ValidDomain(domain) {
		return Lookup{Problem: "not a domain name that can have a policy"}
	}
	e := c.entry(domain)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := c.opts.Now()
	if !e.loaded {
		e.cached = c.store.load(domain, c.opts.Logger)
		e.loaded = true
	}
	if e.cached != nil && !now.Before(e.cached.Expires) {
		events.MTASTSPolicyExpiry{Domain: domain, ID: e.cached.ID}.Log(c.opts.Logger)
		e.cached = nil
		c.store.remove(domain)
		e.checked = time.Time{}
	}
	if !e.checked.IsZero() && now.Sub(e.checked) < c.opts.Recheck {
		return e.answer
	}
	e.answer = c.refresh(ctx, domain, e, now)
	e.checked = now
	return e.answer
}

// refresh asks for the record and fetches the policy when needed.
func (c *Cache) refresh(ctx context.Context, domain string, e *entry, now time.Time) Lookup {
	cached := func(problem string) Lookup {
		if e.cached == nil {
			return Lookup{Problem: problem}
		}
		return Lookup{Policy: e.cached.Policy, Stored: e.cached, Source: "cache", Problem: problem}
	}
	txts, err := c.opts.Resolver.LookupTXT(ctx, "_mta-sts."+domain)
	if err != nil && !resolver.IsNotFound(err) {
		// DNS trouble is no proof the policy was withdrawn.
		return cached("looking up _mta-sts." + domain + ": " + err.Error())
	}
	id, err := recordID(txts)
	if err != nil {
		// Without a record a cached policy stays in force until it
		// expires (RFC 8461 section 5.1): removing the record is how
		// an attacker on the path would try to strip it.
		return cached(err.Error())
	}
	if e.cached != nil && e.cached.ID == id && now.Sub(e.cached.Fetched) < min(refreshAfter, e.cached.Policy.MaxAge/2) {
		return cached("")
	}
	p, text, err := c.fetch.fetch(ctx, domain)
	if err != nil {
		events.MTASTSPolicyFetchFailure{Domain: domain, ID: id, Err: err, Cached: e.cached != nil}.Log(c.opts.Logger)
		return cached(err.Error())
	}
	s := &Stored{Domain: domain, ID: id, Text: text, Fetched: now, Expires: now.Add(p.MaxAge), Policy: p}
	if err := c.store.save(s); err != nil {
		events.MTASTSPolicyUnsaved{Domain: domain, Err: err}.Log(c.opts.Logger)
	}
	e.cached = s
	events.MTASTSPolicyFetched{Domain: domain, ID: id, Mode: string(p.Mode), MaxAge: p.MaxAge}.Log(c.opts.Logger)
	return Lookup{Policy: p, Stored: s, Source: "fetched"}
}

func (c *Cache) entry(domain string) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.domains[domain]
	if e == nil {
		e = &entry{}
		c.domains[domain] = e
	}
	return e
}
