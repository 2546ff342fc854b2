package reports

import (
	"context"
	"sync"
	"time"

	"dkimrelay/config"
	"dkimrelay/reports/store"
	"dkimrelay/reports/summary"
)

// Window is the period the running relay's figures cover: the reports
// whose period ended within the last 7 days.
const Window = 7 * 24 * time.Hour

// Overview is the summary of the recent reports for the metrics and the
// status page. It is computed again at most once per TTL, so a scrape
// every few seconds does not read the store each time.
type Overview struct {
	cfg *config.Config
	st  store.Store
	ttl time.Duration
	now func() time.Time

	mu  sync.Mutex
	at  time.Time
	sum *summary.Summary
}

// NewOverview makes an overview of st's reports for the relay of cfg.
func NewOverview(cfg *config.Config, st store.Store) *Overview {
	return &Overview{cfg: cfg, st: st, ttl: time.Minute, now: time.Now}
}

// Summary is the summary of every domain's reports of the last Window,
// at most a minute old. On a store that cannot be read it is the last
// one that could be made (empty at first).
func (o *Overview) Summary(ctx context.Context) *summary.Summary {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	if o.sum != nil && now.Sub(o.at) < o.ttl {
		return o.sum
	}
	sum, _, err := Summarize(ctx, o.cfg, o.st, "", now.Add(-Window))
	if err != nil {
		if o.sum == nil {
			o.sum = summary.Build(nil, summary.Options{})
		}
		return o.sum
	}
	o.sum, o.at = sum, now
	return sum
}
