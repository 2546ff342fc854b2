package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"dkimrelay/cluster"
	"dkimrelay/config"
	"dkimrelay/control"
	"dkimrelay/events"
	"dkimrelay/logview"
	"dkimrelay/relay/pgqueue"
	"dkimrelay/relay/queue"
	"dkimrelay/relay/queuectl"
	"dkimrelay/reports/pgstore"
	"dkimrelay/reports/store"
)

// clusterTimeout bounds a command's work on the cluster database.
const clusterTimeout = 10 * time.Minute

// shared makes the `users`, `keys` and `suppressions` commands work on the
// cluster's logins, keys and suppression list when cluster.postgres is set: the command runs on
// data_dir's copy between a pull from the database and a push back to it,
// under the cluster's lock, and every relay picks the change up within
// seconds (docs/cluster.md).
func shared(cmds []*command) []*command {
	for _, c := range cmds {
		if c.name != "users" && c.name != "keys" && c.name != "suppressions" {
			continue
		}
		for _, sub := range c.sub {
			sub.run = clustered(sub.run)
		}
	}
	return cmds
}

func clustered(run func(e *env, args []string) error) func(e *env, args []string) error {
	return func(e *env, args []string) error {
		cfg, err := config.Load(e.configPath)
		if err != nil || !cfg.Cluster.Enabled() {
			return run(e, args) // which reports the config's error, if any
		}
		ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
		defer cancel()
		return withCluster(ctx, cfg, func(db *cluster.DB) error {
			return cluster.NewMirror(db, cfg.DataDir).Change(ctx, func() error { return run(e, args) })
		})
	}
}

// withCluster runs fn with a connection to the cluster database, closed
// when fn returns.
func withCluster(ctx context.Context, cfg *config.Config, fn func(db *cluster.DB) error) error {
	db, err := cluster.Open(ctx, cluster.Options{ConnString: cfg.Cluster.Postgres, Node: cfg.Cluster.Node})
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(db)
}

// runClusterImport copies a single relay's logins, keys, queued messages
// and received reports into the cluster database.
func runClusterImport(e *env, args []string) error {
	fs := newFlags(e, "cluster import")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	cfg, err := config.Load(e.configPath)
	if err != nil {
		return err
	}
	if !cfg.Cluster.Enabled() {
		return fmt.Errorf("cluster.postgres is not set in %s: add the [cluster] table first (docs/cluster.md)", cfg.Path)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	return withCluster(ctx, cfg, func(db *cluster.DB) error {
		copied, err := cluster.NewMirror(db, cfg.DataDir).Import(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Logins and keys: %d files copied into the database", len(copied))
		if len(copied) == 0 {
			fmt.Fprint(e.stdout, " (the database had them all)")
		}
		fmt.Fprintln(e.stdout, ".")
		n, err := importQueue(ctx, db, cfg)
		if n.Moved > 0 || n.Present > 0 || err == nil {
			fmt.Fprintf(e.stdout, "Queue: %d messages moved into the database, %d were there already.\n", n.Moved, n.Present)
		}
		if err != nil {
			return err
		}
		r, err := importReports(ctx, db, cfg)
		if r.Copied > 0 || r.Present > 0 || err == nil {
			fmt.Fprintf(e.stdout, "Received reports: %d copied into the database, %d were there already.\n", r.Copied, r.Present)
		}
		return err
	})
}

// importReports copies the received DMARC and TLS reports in data_dir
// into the database; the files stay.
func importReports(ctx context.Context, db *cluster.DB, cfg *config.Config) (pgstore.Imported, error) {
	if _, err := os.Stat(cfg.ReportsDir()); errors.Is(err, os.ErrNotExist) {
		return pgstore.Imported{}, nil // this relay received none
	}
	files, err := store.OpenFiles(cfg.ReportsDir())
	if err != nil {
		return pgstore.Imported{}, err
	}
	return pgstore.New(db.Pool).Import(ctx, files)
}

// importQueue moves the files' queue in data_dir into the database.
func importQueue(ctx context.Context, db *cluster.DB, cfg *config.Config) (pgqueue.Imported, error) {
	q, err := queue.Open(queue.Options{Dir: cfg.QueueDir(), Delivery: cfg.Delivery})
	if err != nil {
		return pgqueue.Imported{}, fmt.Errorf("%w (stop the relay on this data dir before importing its queue)", err)
	}
	defer q.Close()
	s, err := pgqueue.Open(pgqueue.Options{Pool: db.Pool, Node: cfg.Cluster.Node, Delivery: cfg.Delivery, Lease: cfg.Cluster.Lease})
	if err != nil {
		return pgqueue.Imported{}, err
	}
	defer s.Close()
	return s.ImportFiles(ctx, q)
}

// withClusterQueue runs a queue command against the cluster database,
// whether or not a relay runs on this machine: the same handlers as a
// relay's control socket, served for this command alone on a socket in a
// private temporary folder.
func withClusterQueue(ctx context.Context, cfg *config.Config, fn func(ctx context.Context, socket string) error) error {
	return withCluster(ctx, cfg, func(db *cluster.DB) error { return serveClusterQueue(ctx, db, cfg, fn) })
}

// serveClusterQueue serves the queue of db on a private control socket
// while fn runs.
func serveClusterQueue(ctx context.Context, db *cluster.DB, cfg *config.Config, fn func(ctx context.Context, socket string) error) error {
	s, err := pgqueue.Open(pgqueue.Options{Pool: db.Pool, Node: cfg.Cluster.Node, Delivery: cfg.Delivery, Lease: cfg.Cluster.Lease})
	if err != nil {
		return err
	}
	defer s.Close()
	dir, err := os.MkdirTemp("", "dkimrelay-queue")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	log, closeLog, err := commandLog(cfg)
	if err != nil {
		return err
	}
	defer closeLog()
	ctl := control.NewServer(filepath.Join(dir, "control.sock"), log)
	queuectl.Register(ctl, s, cfg.Submission.MaxHeaderSize, log)
	if err := ctl.Listen(); err != nil {
		return err
	}
	go ctl.Serve()
	defer ctl.Close()
	return fn(ctx, filepath.Join(dir, "control.sock"))
}

// commandLog is where a queue command against the cluster logs what it
// did (retry_request, deleted): the relay's log file, as if the relay had
// done it; nowhere when the relay logs to its standard error.
func commandLog(cfg *config.Config) (*slog.Logger, func(), error) {
	if cfg.Log.File == "" {
		return slog.New(slog.DiscardHandler), func() {}, nil
	}
	log, lf, err := events.OpenLog(cfg.Log.File, cfg.Log.Level)
	if err != nil {
		return nil, nil, err
	}
	return log.With(events.SourceKey, "cli"), func() { lf.Close() }, nil
}

// readClusterStory feeds r the events of message qid that the relays of
// the cluster keep in the database.
func readClusterStory(ctx context.Context, cfg *config.Config, qid string, r *logview.Reader) error {
	return withCluster(ctx, cfg, func(db *cluster.DB) error {
		story, err := cluster.Story(ctx, db, qid)
		if err != nil {
			return fmt.Errorf("reading the events of %s from the cluster database: %w", qid, err)
		}
		return r.ReadFrom(ctx, story)
	})
}
