package relay

import (
	"context"
	"sync"

	"dkimrelay/reports"
	"dkimrelay/reports/imapfetch"
	"dkimrelay/reports/pgstore"
	"dkimrelay/reports/store"
	"dkimrelay/reports/summary"
)

// openReports opens the store of received reports (with a cluster, the
// database's), for the metrics, and
// the mailbox fetcher when [reports.imap] is set (docs/reports.md). A bad
// password file or CA file stops the start here.
func (r *Relay) openReports() error {
	var st store.Store
	if r.db != nil {
		// Every relay of the cluster stores and lists the same reports.
		st = pgstore.New(r.db.Pool)
	} else {
		var err error
		if st, err = reports.OpenStore(r.cfg); err != nil {
			return err
		}
	}
	r.reports = reports.NewOverview(r.cfg, st)
	if !r.cfg.Reports.IMAP.Enabled() {
		return nil
	}
	var err error
	r.fetcher, err = imapfetch.New(r.cfg.Reports.IMAP, st, r.log)
	return err
}

// startReports polls the reports' mailbox until the returned function is
// called, which waits for the poll under way to end.
func (r *Relay) startReports() (stop func()) {
	if r.fetcher == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { r.fetcher.Run(ctx) })
	return func() { cancel(); wg.Wait() }
}

// ReportSummary is the summary of the DMARC and TLS reports received in
// the last 7 days, at most a minute old: what the metrics export, for the
// status page.
func (r *Relay) ReportSummary(ctx context.Context) *summary.Summary {
	if r.reports == nil {
		return summary.Build(nil, summary.Options{})
	}
	return r.reports.Summary(ctx)
}
