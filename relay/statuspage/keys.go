package statuspage

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"dkimrelay/keys"
)

// KeyChecks keeps the DNS status of the keys: each key's record is looked
// up when the keys change and then every interval, never for a page view.
type KeyChecks struct {
	lookup   keys.TXTLookup
	interval time.Duration
	changed  chan struct{}

	mu      sync.Mutex
	keys    []*keys.Key
	results map[string]keys.CheckResult // by domain and selector
	checked time.Time                   // when results were taken; zero: never
}

// NewKeyChecks checks with lookup every interval.
func NewKeyChecks(lookup keys.TXTLookup, interval time.Duration) *KeyChecks {
	return &KeyChecks{lookup: lookup, interval: interval, changed: make(chan struct{}, 1)}
}

// SetKeys gives the keys in force (at start and each reload); they are
// checked again soon.
func (c *KeyChecks) SetKeys(ks []*keys.Key) {
	c.mu.Lock()
	c.keys = ks
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// Run checks the keys until ctx ends.
func (c *KeyChecks) Run(ctx context.Context) {
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.changed:
		case <-t.C:
		}
		c.check(ctx)
	}
}

// checkTimeout bounds one round of lookups.
const checkTimeout = 30 * time.Second

func (c *KeyChecks) check(ctx context.Context) {
	c.mu.Lock()
	ks := c.keys
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	res := keys.CheckAll(ctx, c.lookup, ks)
	if ctx.Err() != nil && len(ks) > 0 {
		return // stopping: keep what was known
	}
	m := make(map[string]keys.CheckResult, len(res))
	for _, r := range res {
		m[r.Key.Domain+"/"+r.Key.Selector] = r
	}
	c.mu.Lock()
	c.results, c.checked = m, time.Now()
	c.mu.Unlock()
}

// KeyStatus is one key as the page shows it.
type KeyStatus struct {
	Domain, Selector, Algorithm, State string
	Created, Activated                 time.Time
	// NextRotation is when `keys rotate` starts replacing an active key
	// (activation plus keys.rotate_after); RemovableAfter is when a
	// retiring key's record may go.
	NextRotation, RemovableAfter time.Time
	// DNS is the publication found by the last check ("" when not
	// checked yet), Detail its explanation.
	DNS, Detail string
}

// Status lists the keys by domain and state, with the last check's
// results and when it was taken.
func (c *KeyChecks) Status(rotateAfter, retireAfter time.Duration) ([]KeyStatus, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]KeyStatus, 0, len(c.keys))
	for _, k := range c.keys {
		s := KeyStatus{Domain: k.Domain, Selector: k.Selector, Algorithm: string(k.Algorithm), State: string(k.State),
			Created: k.Created, Activated: k.Activated, RemovableAfter: k.RemovableAfter(retireAfter)}
		if k.State == keys.Active {
			s.NextRotation = k.Activated.Add(rotateAfter)
		}
		if r, ok := c.results[k.Domain+"/"+k.Selector]; ok {
			s.DNS, s.Detail = string(r.State), r.Detail
		}
		out = append(out, s)
	}
	order := map[string]int{string(keys.Active): 0, string(keys.Pending): 1, string(keys.Retiring): 2}
	slices.SortFunc(out, func(a, b KeyStatus) int {
		return cmp.Or(cmp.Compare(a.Domain, b.Domain), cmp.Compare(order[a.State], order[b.State]), cmp.Compare(a.Selector, b.Selector))
	})
	return out, c.checked
}
