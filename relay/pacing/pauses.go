package pacing

import (
	"context"
	"sync"
	"time"
)

// Pause is a provider's throttling pause as the relays of a cluster share
// it: until when it holds, the throttles in a row that made it (the
// backoff: the next pause is Limits.Pause doubled that many times) and
// the provider's reply.
type Pause struct {
	Until  time.Time
	Pauses int
	Reply  string
}

// PauseStore shares the providers' pauses among the relays of a cluster
// (docs/cluster.md): a provider that throttles one relay is paused for
// all of them. Without one, a pause holds on the relay that was
// throttled.
type PauseStore interface {
	// Active returns the pauses that end after now, by provider.
	Active(ctx context.Context, now time.Time) (map[string]Pause, error)
	// Save records a provider's pause; a pause that ends later, saved by
	// another relay meanwhile, stays.
	Save(ctx context.Context, provider string, p Pause) error
}

// syncEvery is how stale the shared pauses may be when a relay decides:
// at most one read of the store per second, whatever the rate of mail.
const syncEvery = time.Second

// storeTimeout bounds one read or write of the shared pauses.
const storeTimeout = 5 * time.Second

// shared is the Pacer's link to a PauseStore.
type shared struct {
	store PauseStore

	mu     sync.Mutex // held while reading the store: one read at a time
	synced time.Time
}

// SharePauses makes the pacer save each provider pause to store and adopt
// those the other relays saved, read at most once per syncEvery when
// deciding. Call it before the first Admit.
func (p *Pacer) SharePauses(store PauseStore) {
	p.shared = &shared{store: store}
}

// syncPauses adopts the pauses other relays saved, when the last read is
// older than syncEvery. A store that cannot be read leaves the pacer as
// it was: each relay still pauses on its own throttles.
func (p *Pacer) syncPauses(ctx context.Context) {
	s := p.shared
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := p.now()
	if now.Sub(s.synced) < syncEvery {
		return
	}
	s.synced = now
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	active, err := s.store.Active(ctx, now)
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, ps := range active {
		pr := p.providerLocked(name, false)
		if !ps.Until.After(pr.pausedUntil) {
			continue // known already, or this relay's own
		}
		// Another relay was throttled: the provider limits the cluster's
		// addresses as a whole, so this relay slows down as well.
		pr.pausedUntil, pr.reply = ps.Until, ps.Reply
		pr.pauses = max(pr.pauses, ps.Pauses)
		pr.factor = max(pr.factor/2, minFactor)
		pr.bulkNext = maxTime(pr.bulkNext, pr.pausedUntil.Add(max(p.bulkInterval(pr), busyWait)))
	}
}

// savePause records a pause this relay decided in the store, if any.
func (p *Pacer) savePause(name string, ps Pause) {
	if p.shared == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	// A failure leaves the pause on this relay alone; the database's
	// unavailability shows in the queue's own errors.
	_ = p.shared.store.Save(ctx, name, ps)
}
