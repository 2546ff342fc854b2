package relay

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"dkimrelay/cluster"
	"dkimrelay/events"
	"dkimrelay/relay/pgqueue"
	"dkimrelay/relay/queue"
)

// clusterOpenTimeout bounds connecting to the cluster database and
// migrating its schema at start.
const clusterOpenTimeout = time.Minute

// openQueue opens the queue: the files in data_dir, or with
// cluster.postgres the database the relays share (docs/cluster.md).
func (r *Relay) openQueue() error {
	cfg := r.cfg
	if !cfg.Cluster.Enabled() {
		q, err := queue.Open(queue.Options{
			Dir:      cfg.QueueDir(),
			Delivery: cfg.Delivery,
			Logger:   r.log,
			// Accept mail at once after a restart, however long the queue
			// waiting for a destination has grown: 100,000 messages take
			// seconds to load.
			LoadInBackground: true,
			// Message files created ahead of need: accepting a message
			// then costs one file fsync, no file creation and no
			// directory fsync (docs/operations.md).
			Spares: queue.DefaultSpares,
		})
		if err != nil {
			return fmt.Errorf("queue: %w", err)
		}
		r.queue, r.store = q, q
		return nil
	}
	s, err := pgqueue.Open(pgqueue.Options{
		Pool:     r.db.Pool,
		Node:     cfg.Cluster.Node,
		Delivery: cfg.Delivery,
		Lease:    cfg.Cluster.Lease,
		Logger:   r.log,
	})
	if err != nil {
		return err
	}
	r.store = s
	return nil
}

// openCluster connects to cluster.postgres, when set, and copies the
// cluster's logins and keys into data_dir before they are read.
func (r *Relay) openCluster() error {
	cfg := r.cfg
	if !cfg.Cluster.Enabled() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterOpenTimeout)
	defer cancel()
	db, err := cluster.Open(ctx, cluster.Options{ConnString: cfg.Cluster.Postgres, Node: cfg.Cluster.Node, Logger: r.log})
	if err != nil {
		return err
	}
	r.db = db
	r.mirror = cluster.NewMirror(db, cfg.DataDir)
	if _, err := r.mirror.Pull(ctx); errors.Is(err, cluster.ErrNoSharedFiles) {
		r.log.Warn(events.ClusterEmpty, events.DetailKey, err.Error())
	} else if err != nil {
		return err
	}
	return nil
}

// watchCluster reloads logins and keys whenever another relay (or a
// command on any machine) changes them and writes the message events to
// the database, and returns the function that stops both (the events
// waiting are written first).
func (r *Relay) watchCluster() (stop func()) {
	if r.mirror == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { r.mirror.Watch(ctx, func() { r.Reload() }) })
	wg.Go(func() { r.events.Run(ctx, r.db, r.cfg.Cluster.EventsRetention) })
	// The providers' pacing limits hold for the cluster as a whole: each
	// relay keeps to its share of them.
	wg.Go(func() {
		r.db.Heartbeat(ctx, func(n int) {
			if r.pace != nil {
				r.pace.Pacer.SetShare(n)
			}
			r.log.Info(events.ClusterNodes, events.RelaysKey, n)
		})
	})
	return func() { cancel(); wg.Wait() }
}
