package relay

import (
	"context"
	"log/slog"

	"dkimrelay/config"
	"dkimrelay/relay/pacing"
	"dkimrelay/resolver"
)

// newPacing builds the per-provider pacing of [delivery]; nil in outbox
// mode, which sends nothing.
func newPacing(cfg *config.Config, res *resolver.Resolver, log *slog.Logger) *pacing.Gate {
	d := cfg.Delivery
	if d.Mode == config.ModeOutbox {
		return nil
	}
	fixed := ""
	if d.Mode == config.ModeSmarthost {
		fixed = "smarthost"
	}
	lookup := func(ctx context.Context, domain string) ([]string, error) {
		mxs, err := res.LookupMX(ctx, domain)
		hosts := make([]string, len(mxs))
		for i, mx := range mxs {
			hosts[i] = mx.Host
		}
		return hosts, err
	}
	return &pacing.Gate{
		Pacer: pacing.New(pacing.Limits{
			Rate: d.ProviderRate, BulkRate: d.BulkRate, Connections: d.ProviderConnections,
			Pause: d.ProviderPause, MaxPause: d.ProviderPauseMax,
		}, log),
		Providers: pacing.NewProviders(lookup, fixed),
	}
}
