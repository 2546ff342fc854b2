package relay

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"dkimrelay/internal/basicauth"
	"dkimrelay/internal/secretfile"
	"dkimrelay/relay/queue"
	"dkimrelay/relay/statuspage"
)

// statusPage is the status page's parts the relay feeds: the history of
// events (through the log) and the keys at each reload.
type statusPage struct {
	page    *statuspage.Page
	history *statuspage.History
	keys    *statuspage.KeyChecks
}

// keyCheckInterval is how often the status page's DNS status of the keys
// is taken again between reloads.
const keyCheckInterval = 15 * time.Minute

func (r *Relay) newStatusPage(log *slog.Logger) *statusPage {
	sp := &statusPage{
		history: statuspage.NewHistory(time.Now()),
		// The resolver is made after the log: it is looked up at the
		// first check, once the relay runs.
		keys: statuspage.NewKeyChecks(func(ctx context.Context, name string) ([]string, error) {
			return r.resolver.LookupTXT(ctx, name)
		}, keyCheckInterval),
	}
	sp.page = statuspage.New(statuspage.Options{
		Hostname:    r.cfg.Hostname,
		History:     sp.history,
		Queue:       r.walkQueue,
		Keys:        sp.keys,
		RotateAfter: r.cfg.Keys.RotateAfter,
		RetireAfter: r.cfg.Keys.RetireAfter,
		Reports:     r.ReportSummary,
		LogFile:     r.cfg.Log.File,
		Log:         log,
	})
	return sp
}

// walkQueue walks the queue's messages for the status page: with a
// cluster, every relay's.
func (r *Relay) walkQueue(fn func(*queue.Message) error) error {
	if r.store == nil {
		return nil
	}
	return r.store.Walk(fn)
}

// observeHandler serves /metrics, /healthz, /readyz and the status page
// at /, behind HTTP basic auth (but /healthz) when metrics.password_file
// is set.
func (r *Relay) observeHandler() (http.Handler, error) {
	mux := http.NewServeMux()
	mux.Handle("/", r.obs.m.HTTPHandler(r.readiness))
	mux.Handle("GET /{$}", r.obs.page.page)
	if r.cfg.Metrics.PasswordFile == "" {
		return mux, nil
	}
	pw, err := secretfile.ReadPassword(r.cfg.Metrics.PasswordFile)
	if err != nil {
		return nil, fmt.Errorf("metrics.password_file: %w", err)
	}
	return basicauth.Guard(mux, pw, "dkimrelay", "/healthz"), nil
}
