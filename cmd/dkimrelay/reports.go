package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"dkimrelay/cluster"
	"dkimrelay/config"
	"dkimrelay/reports"
	"dkimrelay/reports/pgstore"
	"dkimrelay/reports/store"
)

func runReports(e *env, args []string) error {
	fs := newFlags(e, "reports")
	domain := fs.String("domain", "", "only mail from this domain and its sub-domains")
	since := fs.String("since", "", "only reports ending in this period: a duration (72h, 7d) or a time (2026-11-02)")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	var from time.Time
	if *since != "" {
		t, err := parseSince(*since, time.Now())
		if err != nil {
			return usagef("reports --since: %v", err)
		}
		from = t
	}
	cfg, st, closeStore, err := openReportStore(e)
	if err != nil {
		return err
	}
	defer closeStore()
	sum, notes, err := reports.Summarize(context.Background(), cfg, st, *domain, from)
	if err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintln(e.stderr, "dkimrelay: note:", n)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	}
	return sum.WriteText(e.stdout)
}

func runReportsImport(e *env, args []string) error {
	fs := newFlags(e, "reports import")
	paths, err := parse(fs, args, 1, 1<<20)
	if err != nil {
		return err
	}
	_, st, closeStore, err := openReportStore(e)
	if err != nil {
		return err
	}
	defer closeStore()
	c, err := reports.Import(context.Background(), st, paths, e.stdin, e.stdout, e.stderr)
	fmt.Fprintf(e.stdout, "%d imported, %d already stored, %d skipped\n", c.Added, c.Duplicates, c.Skipped)
	if err != nil {
		return err
	}
	if c.Skipped > 0 {
		return fmt.Errorf("%d input(s) skipped, each named above with the reason; the rest were imported", c.Skipped)
	}
	return nil
}

// openReportStore loads the config and opens the store of received
// reports it names: with cluster.postgres the cluster's database, which
// closeStore closes.
func openReportStore(e *env) (cfg *config.Config, st store.Store, closeStore func(), err error) {
	if cfg, err = config.Load(e.configPath); err != nil {
		return nil, nil, nil, err
	}
	if cfg.Cluster.Enabled() {
		ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
		defer cancel()
		db, err := cluster.Open(ctx, cluster.Options{ConnString: cfg.Cluster.Postgres, Node: cfg.Cluster.Node})
		if err != nil {
			return nil, nil, nil, err
		}
		return cfg, pgstore.New(db.Pool), db.Close, nil
	}
	if st, err = reports.OpenStore(cfg); err != nil {
		return nil, nil, nil, err
	}
	return cfg, st, func() {}, nil
}
