package statuspage

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"

	"dkimrelay/authcheck"
)

// Outcome is what the chart counts per hour.
type Outcome int

// The outcomes, in the chart's order. Accepted counts messages; the
// others count recipients, as the delivery events do.
const (
	Accepted Outcome = iota
	Delivered
	Deferred
	Bounced // bounced, or expired at delivery.max_lifetime
	Suppressed
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"accepted", "delivered", "deferred", "bounced", "suppressed"}

func (o Outcome) String() string { return outcomeNames[o] }

// Counts are the events of each outcome.
type Counts [numOutcomes]int

// hours is the window of the chart and of the per-destination tables.
const hours = 24

// maxDestinations bounds the destinations one hour remembers; the rest
// are counted under otherDestination, so that mail to a million domains
// cannot grow the relay's memory.
const maxDestinations = 500

// otherDestination gathers the destinations past maxDestinations.
const otherDestination = "(other domains)"

// History keeps the last 24 hours of outcomes in memory, per hour, with
// the recipients' domains and the TLS policies of the deliveries. It is
// fed the relay's events (Tee) and lost at a restart: Started says since
// when it counts.
type History struct {
	mu      sync.Mutex
	started time.Time
	buckets [hours]bucket
}

// bucket is one hour.
type bucket struct {
	hour     int64 // Unix hours; the bucket is stale when it is not the hour asked
	counts   Counts
	dests    map[string]*Destination
	policies map[string]int
}

// Destination is what happened to the mail for one recipient domain.
type Destination struct {
	Domain string
	// Provider is the organizational domain of the MX host that last
	// answered for Domain (google.com for gmail.com's MX hosts), or ""
	// when none has answered.
	Provider string
	Counts   Counts
}

// NewHistory starts counting at now.
func NewHistory(now time.Time) *History {
	return &History{started: now}
}

// Started is when the history began counting.
func (h *History) Started() time.Time { return h.started }

// bucketAt returns the bucket of t's hour, emptied if it held an older
// hour; nil when t is outside the window that ends at now.
func (h *History) bucketAt(t time.Time) *bucket {
	hr := t.Unix() / 3600
	b := &h.buckets[hr%hours]
	if b.hour != hr {
		if b.hour > hr {
			return nil // an event older than the window
		}
		*b = bucket{hour: hr}
	}
	return b
}

// Add counts one event of outcome o at t, for recipient rcpt ("" for an
// accepted message), answered by mx (or ""), delivered under TLS policy
// (or "").
func (h *History) Add(t time.Time, o Outcome, rcpt, mx, policy string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.bucketAt(t)
	if b == nil {
		return
	}
	b.counts[o]++
	if o == Delivered {
		if policy == "" {
			policy = "none"
		}
		if b.policies == nil {
			b.policies = map[string]int{}
		}
		b.policies[policy]++
	}
	if rcpt == "" || o == Accepted {
		return
	}
	domain := "(no domain)"
	if _, d, ok := strings.Cut(rcpt, "@"); ok {
		domain = strings.ToLower(d)
	}
	if b.dests == nil {
		b.dests = map[string]*Destination{}
	}
	d := b.dests[domain]
	if d == nil {
		if len(b.dests) >= maxDestinations {
			domain = otherDestination
		}
		if d = b.dests[domain]; d == nil {
			d = &Destination{Domain: domain}
			b.dests[domain] = d
		}
	}
	if mx != "" && domain != otherDestination {
		d.Provider = authcheck.OrgDomain(mx)
	}
	d.Counts[o]++
}

// Hour is one hour of the window.
type Hour struct {
	Start  time.Time
	Counts Counts
}

// Window is the last 24 hours as of a time.
type Window struct {
	Hours        []Hour // oldest first; the last is the hour under way
	Totals       Counts
	Destinations []Destination // most mail first
	Policies     []PolicyCount // most deliveries first
	// Since is when the counting began, when that is within the window
	// (the relay started less than 24 hours ago); zero otherwise.
	Since time.Time
}

// PolicyCount is the deliveries under one TLS policy.
type PolicyCount struct {
	Policy string
	Count  int
}

// Window sums up the 24 hours that end with now's hour.
func (h *History) Window(now time.Time) Window {
	h.mu.Lock()
	defer h.mu.Unlock()
	var w Window
	dests := map[string]*Destination{}
	policies := map[string]int{}
	last := now.Unix() / 3600
	for hr := last - hours + 1; hr <= last; hr++ {
		hour := Hour{Start: time.Unix(hr*3600, 0).UTC()}
		b := &h.buckets[hr%hours]
		if b.hour == hr {
			hour.Counts = b.counts
			for i, n := range b.counts {
				w.Totals[i] += n
			}
			for k, d := range b.dests {
				acc := dests[k]
				if acc == nil {
					acc = &Destination{Domain: d.Domain}
					dests[k] = acc
				}
				if d.Provider != "" {
					acc.Provider = d.Provider
				}
				for i, n := range d.Counts {
					acc.Counts[i] += n
				}
			}
			for p, n := range b.policies {
				policies[p] += n
			}
		}
		w.Hours = append(w.Hours, hour)
	}
	for _, d := range dests {
		w.Destinations = append(w.Destinations, *d)
	}
	slices.SortFunc(w.Destinations, func(a, b Destination) int {
		return cmp.Or(cmp.Compare(b.Counts.sum(), a.Counts.sum()), cmp.Compare(a.Domain, b.Domain))
	})
	for p, n := range policies {
		w.Policies = append(w.Policies, PolicyCount{p, n})
	}
	slices.SortFunc(w.Policies, func(a, b PolicyCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Policy, b.Policy))
	})
	if now.Sub(h.started) < hours*time.Hour {
		w.Since = h.started
	}
	return w
}

// sum is the recipients' outcomes of a destination.
func (c Counts) sum() int {
	return c[Delivered] + c[Deferred] + c[Bounced] + c[Suppressed]
}
