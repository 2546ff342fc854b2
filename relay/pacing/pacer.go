package pacing

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"dkimrelay/events"
	"dkimrelay/relay/outcome"
)

// Limits are the pacing settings (delivery.provider_rate and the keys
// after it in the README).
type Limits struct {
	// Rate is messages per minute to each big provider (ProviderOf); 0
	// is no limit. Other destinations get it only while they recover
	// from a throttle.
	Rate int
	// BulkRate is bulk messages per minute to each provider; 0 is no
	// limit.
	BulkRate int
	// Connections caps the deliveries in progress to one big provider;
	// 0 is no cap. Bulk mail leaves one of them to transactional mail.
	// Other destinations are held to delivery.max_per_domain alone, by
	// delivery, which waits for a free connection instead.
	Connections int
	// Pause is how long a throttled provider gets no mail at first; it
	// doubles with each throttle in a row, up to MaxPause.
	Pause, MaxPause time.Duration
}

// burst is how many transactional messages may go at once to a provider
// that has had none for a while.
const burst = 10

// busyWait is how long a message waits when its provider has all its
// connections in use.
const busyWait = 2 * time.Second

// minFactor is the lowest share of its rate a provider falls to after
// throttles in a row.
const minFactor = 1.0 / 16

// Pacer keeps the state of each provider. It is safe for concurrent use.
type Pacer struct {
	limits Limits  // in force: this relay's share (SetShare)
	base   *Limits // the configured limits, once SetShare was called
	log    *slog.Logger
	now    func() time.Time

	mu        sync.Mutex
	providers map[string]*provider

	shared *shared // the cluster's pauses; nil for a relay on its own (pauses.go)
}

type provider struct {
	name string
	big  bool

	inFlight int
	tat      time.Time // rate: the theoretical arrival time (GCRA) of the next message
	bulkNext time.Time // the next free bulk slot
	reserved map[string]time.Time

	factor      float64 // share of the rates in force: 1, halved by each throttle, climbing back
	pausedUntil time.Time
	pauses      int // throttles in a row: the next pause is Pause << pauses
	reply       string
}

// New returns a Pacer.
func New(limits Limits, log *slog.Logger) *Pacer {
	if limits.Pause <= 0 {
		limits.Pause = time.Minute
	}
	if limits.MaxPause < limits.Pause {
		limits.MaxPause = limits.Pause
	}
	return &Pacer{limits: limits, log: log, now: time.Now, providers: map[string]*provider{}}
}

func (p *Pacer) providerLocked(name string, big bool) *provider {
	pr, ok := p.providers[name]
	if !ok {
		pr = &provider{name: name, big: big, factor: 1, reserved: map[string]time.Time{}}
		p.providers[name] = pr
	}
	pr.big = pr.big || big // known small when another relay's pause made it (pauses.go)
	return pr
}

// Ticket is an admitted delivery; Done ends it.
type Ticket struct {
	p        *Pacer
	provider string
}

// Admit asks whether message qid may go to provider now. When it may, the
// caller delivers and then calls Done on the ticket; when not, until is
// when to ask again and why says what it waits for (shown in queue list).
// Transactional mail comes first: bulk takes a provider's rate budget only
// when it is free, keeps to BulkRate in slots reserved one per message,
// and leaves one connection to transactional mail.
func (p *Pacer) Admit(qid, name string, big, bulk bool) (t *Ticket, until time.Time, why string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	pr := p.providerLocked(name, big)
	if now.Before(pr.pausedUntil) {
		until = pr.pausedUntil
		if bulk {
			// Transactional mail goes first when the pause ends.
			bi := p.bulkInterval(pr)
			until = pr.reserveBulkLocked(qid, until.Add(max(bi, busyWait)), bi)
		}
		return nil, until, fmt.Sprintf("provider %s paused until %s after it answered: %s",
			name, pr.pausedUntil.UTC().Format(time.RFC3339), pr.reply)
	}
	slot, hasSlot := pr.reserved[qid]
	if hasSlot && now.Before(slot) {
		return nil, slot, fmt.Sprintf("bulk mail to provider %s paced at delivery.bulk_rate; its turn comes at %s", name, slot.UTC().Format(time.RFC3339))
	}
	if c := p.limits.Connections; c > 0 && pr.big {
		free := c - pr.inFlight
		if free <= 0 || bulk && c > 1 && free <= 1 {
			return nil, now.Add(busyWait), fmt.Sprintf("provider %s has %d deliveries in progress (delivery.provider_connections)", name, pr.inFlight)
		}
	}
	interval := p.interval(pr)
	switch {
	case hasSlot:
		delete(pr.reserved, qid)
	case bulk:
		bi := p.bulkInterval(pr)
		// Bulk takes the provider's budget only when transactional
		// mail leaves it free now, and keeps to its own rate.
		if interval > 0 && pr.tat.After(now) || bi > 0 && pr.bulkNext.After(now) {
			slot := pr.reserveBulkLocked(qid, maxTime(pr.tat, now), bi)
			return nil, slot, fmt.Sprintf("bulk mail to provider %s paced at delivery.bulk_rate; its turn comes at %s", name, slot.UTC().Format(time.RFC3339))
		}
		if bi > 0 {
			pr.bulkNext = now.Add(bi)
		}
	case interval > 0:
		// GCRA: up to burst messages at once, then one per interval.
		if allowed := pr.tat.Add(-burst * interval); now.Before(allowed) {
			return nil, allowed, fmt.Sprintf("provider %s paced at delivery.provider_rate", name)
		}
	}
	if interval > 0 {
		pr.tat = maxTime(pr.tat, now).Add(interval)
	}
	pr.inFlight++
	return &Ticket{p: p, provider: name}, time.Time{}, ""
}

// reserveBulkLocked gives qid the next bulk slot from not before from,
// and returns it.
func (pr *provider) reserveBulkLocked(qid string, from time.Time, interval time.Duration) time.Time {
	if slot, ok := pr.reserved[qid]; ok && !slot.Before(from) {
		return slot
	}
	slot := maxTime(pr.bulkNext, from)
	pr.bulkNext = slot.Add(interval)
	if len(pr.reserved) > 1_000_000 {
		clear(pr.reserved) // messages deleted while waiting: start over
	}
	pr.reserved[qid] = slot
	return slot
}

func (p *Pacer) interval(pr *provider) time.Duration {
	if p.limits.Rate <= 0 || !pr.big && pr.factor >= 1 {
		return 0
	}
	return time.Duration(float64(time.Minute) / (float64(p.limits.Rate) * pr.factor))
}

func (p *Pacer) bulkInterval(pr *provider) time.Duration {
	if p.limits.BulkRate <= 0 {
		return 0
	}
	return time.Duration(float64(time.Minute) / (float64(p.limits.BulkRate) * pr.factor))
}

// Done ends a delivery with its outcomes: a throttling reply pauses the
// provider (Pause, doubling with each throttle in a row, up to MaxPause)
// and halves its rates; each delivery after it brings them back up.
func (t *Ticket) Done(outcomes []outcome.Outcome) {
	if ps, paused := t.done(outcomes); paused {
		t.p.savePause(t.provider, ps)
	}
}

// done is Done but for the store of the cluster's pauses: it returns the
// pause a throttle started.
func (t *Ticket) done(outcomes []outcome.Outcome) (Pause, bool) {
	p := t.p
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := p.providers[t.provider]
	pr.inFlight--
	now := p.now()
	for _, o := range outcomes {
		if Throttled(o) {
			if now.Before(pr.pausedUntil) {
				return Pause{}, false // paused already by another delivery's reply
			}
			d := min(p.limits.Pause<<min(pr.pauses, 20), p.limits.MaxPause)
			pr.pausedUntil, pr.reply = now.Add(d), o.Reply
			pr.pauses++
			pr.factor = max(pr.factor/2, minFactor)
			pr.bulkNext = maxTime(pr.bulkNext, pr.pausedUntil.Add(max(p.bulkInterval(pr), busyWait)))
			events.ProviderPause{Provider: pr.name, MX: o.MX, Until: pr.pausedUntil, Reply: o.Reply, Rate: pr.factor}.Log(p.log)
			return Pause{Until: pr.pausedUntil, Pauses: pr.pauses, Reply: o.Reply}, true
		}
	}
	for _, o := range outcomes {
		if o.Status == outcome.Delivered && pr.factor < 1 {
			pr.factor = min(1, pr.factor*1.25)
			if pr.factor == 1 {
				pr.pauses = 0
				events.ProviderResume{Provider: pr.name}.Log(p.log)
			}
			return Pause{}, false
		}
	}
	return Pause{}, false
}

// Paused returns when provider name's pause ends, zero when it is not
// paused.
func (p *Pacer) Paused(name string) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pr, ok := p.providers[name]; ok && p.now().Before(pr.pausedUntil) {
		return pr.pausedUntil
	}
	return time.Time{}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
