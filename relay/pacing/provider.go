// Package pacing paces deliveries per destination provider, so that a
// burst (an announcement to every user) does not make Gmail, Outlook or
// Yahoo throttle or block the sending domain: a message rate and a
// connection limit per provider, bulk mail within its own rate and behind
// transactional mail, and a pause of the whole provider, with growing
// backoff, when it answers with a throttling reply. See
// docs/deliverability.md, "Pacing per provider".
package pacing

import (
	"context"
	"strings"
	"sync"
	"time"
)

// bigProviders maps MX host suffixes to the mailbox providers behind them.
// Destinations whose MX hosts end in one of them are one provider: a
// rate or a throttle at one of its MX hosts holds for all of its domains.
var bigProviders = []struct{ suffix, name string }{
	{"google.com", "google"},
	{"googlemail.com", "google"},
	{"outlook.com", "microsoft"},
	{"hotmail.com", "microsoft"},
	{"yahoodns.net", "yahoo"},
	{"yahoo.com", "yahoo"},
	{"aol.com", "yahoo"},
	{"icloud.com", "apple"},
	{"me.com", "apple"},
	{"mail.ru", "mailru"},
	{"yandex.net", "yandex"},
	{"yandex.ru", "yandex"},
	{"gmx.net", "gmx"},
	{"web.de", "gmx"},
	{"protonmail.ch", "proton"},
	{"zoho.com", "zoho"},
	{"fastmail.com", "fastmail"},
	{"messagingengine.com", "fastmail"},
	{"mimecast.com", "mimecast"},
	{"pphosted.com", "proofpoint"},
}

// ProviderOf returns the provider behind an MX host and whether it is one
// of the big mailbox providers. Any other host's provider is its parent
// domain (the host without its first label, at least two labels), so that
// mx1.example.net and mx2.example.net are one provider.
func ProviderOf(mxHost string) (name string, big bool) {
	h := strings.ToLower(strings.TrimSuffix(mxHost, "."))
	for _, p := range bigProviders {
		if h == p.suffix || strings.HasSuffix(h, "."+p.suffix) {
			return p.name, true
		}
	}
	labels := strings.Split(h, ".")
	if len(labels) > 2 {
		labels = labels[1:]
	}
	return strings.Join(labels, "."), false
}

// MXLookup is the resolver's MX lookup.
type MXLookup func(ctx context.Context, domain string) ([]string, error)

// Providers finds the provider of a recipient domain from its MX hosts,
// remembering the answer for a while.
type Providers struct {
	lookup MXLookup
	fixed  string // smarthost mode: every domain goes to one provider
	ttl    time.Duration

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	name string
	big  bool
	at   time.Time
}

// NewProviders returns the domain-to-provider mapping over lookup. With
// fixed set (smarthost mode) every domain is that provider.
func NewProviders(lookup MXLookup, fixed string) *Providers {
	return &Providers{lookup: lookup, fixed: fixed, ttl: 10 * time.Minute, cache: map[string]cached{}}
}

// maxCached bounds the cache: past it, it starts over.
const maxCached = 10000

// Of returns the provider of domain: that of its most preferred MX host,
// or the domain itself when it has none or the lookup fails (delivery
// then finds out why).
func (p *Providers) Of(ctx context.Context, domain string) (name string, big bool) {
	if p.fixed != "" {
		return p.fixed, false
	}
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	now := time.Now()
	p.mu.Lock()
	c, ok := p.cache[domain]
	p.mu.Unlock()
	if ok && now.Sub(c.at) < p.ttl {
		return c.name, c.big
	}
	name, big = domain, false
	if hosts, err := p.lookup(ctx, domain); err == nil && len(hosts) > 0 && hosts[0] != "." && hosts[0] != "" {
		name, big = ProviderOf(hosts[0])
	}
	p.mu.Lock()
	if len(p.cache) >= maxCached {
		p.cache = map[string]cached{}
	}
	p.cache[domain] = cached{name: name, big: big, at: now}
	p.mu.Unlock()
	return name, big
}
