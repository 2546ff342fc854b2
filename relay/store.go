package relay

import (
	"context"
	"fmt"
	"time"

	"dkimrelay/cluster"
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
		})
		if err != nil {
			return fmt.Errorf("queue: %w", err)
		}
		r.queue, r.store = q, q
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterOpenTimeout)
	defer cancel()
	db, err := cluster.Open(ctx, cluster.Options{ConnString: cfg.Cluster.Postgres, Node: cfg.Cluster.Node, Logger: r.log})
	if err != nil {
		return err
	}
	r.db = db
	s, err := pgqueue.Open(pgqueue.Options{
		Pool:     db.Pool,
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
