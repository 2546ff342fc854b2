package cluster

import (
	"context"
	"time"
)

// heartbeatEvery is how often a relay says it is alive; a relay not seen
// for nodeTimeout no longer counts. Variables for the tests.
var (
	heartbeatEvery = 10 * time.Second
	nodeTimeout    = 30 * time.Second
)

// Heartbeat records this relay as alive every heartbeatEvery and calls
// live with the number of relays alive (itself included) whenever it
// changes, until ctx ends; then it removes the relay, so that the others
// count it out at once. With the database away, live is not called: the
// last count stays.
func (db *DB) Heartbeat(ctx context.Context, live func(n int)) {
	last := 0
	beat := func() {
		bctx, cancel := context.WithTimeout(ctx, heartbeatEvery)
		defer cancel()
		var n int
		err := db.Pool.QueryRow(bctx, `WITH me AS (
				INSERT INTO cluster_nodes (node, seen_at) VALUES ($1, now())
				ON CONFLICT (node) DO UPDATE SET seen_at = now())
			SELECT 1 + count(*) FROM cluster_nodes WHERE node <> $1 AND seen_at > now() - $2::interval`,
			db.Node, nodeTimeout.String()).Scan(&n)
		if err == nil && n != last {
			last = n
			live(n)
		}
	}
	beat()
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			db.Pool.Exec(dctx, "DELETE FROM cluster_nodes WHERE node = $1", db.Node)
			cancel()
			return
		case <-t.C:
			beat()
		}
	}
}
