// Package pgdedup keeps the duplicate window (submission.duplicate_window)
// in the PostgreSQL database that several relays share (docs/cluster.md),
// so that a message submitted again to any relay of the cluster within
// the window is answered with the first one's queue ID and delivered
// once.
//
// A row of cluster_duplicates holds a message's fingerprint, its queue ID
// and when it was accepted; a row whose queue ID is empty is a claim: a
// relay is queueing that message now, and an identical one waits for it.
// Times are the database's, so that the relays' clocks need not agree.
package pgdedup

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"dkimrelay/relay/dedup"
)

// claimTimeout is how long a claim holds before another relay may take
// it over: the relay that held it died while queueing.
const claimTimeout = time.Minute

// pollInterval is how often Lookup looks again at a key another relay
// is queueing.
const pollInterval = 50 * time.Millisecond

// opTimeout bounds Done's writes, which do not get the caller's context.
const opTimeout = 10 * time.Second

// Window is the duplicate window in the database: a dedup.Window.
type Window struct {
	pool   *pgxpool.Pool
	node   string
	window time.Duration

	mu    sync.Mutex
	swept time.Time
}

var _ dedup.Window = (*Window)(nil)

// New returns the window of length window in pool's cluster_duplicates
// (created by the cluster's migrations), node naming this relay's claims.
func New(pool *pgxpool.Pool, node string, window time.Duration) *Window {
	return &Window{pool: pool, node: node, window: window}
}

// Lookup returns the queue ID of the message with key k accepted within
// the window by any relay, or a claim on k. While another relay (or this
// one) holds a claim on k, it waits for that claim to end, up to ctx.
func (w *Window) Lookup(ctx context.Context, k dedup.Key) (string, dedup.Claim, error) {
	for {
		// Take the key when it is free, expired, or claimed by a relay
		// that has not finished in claimTimeout.
		// One statement, committed without waiting for the disk (see
		// exec): set_config in a subquery PostgreSQL always evaluates.
		var claimed bool
		err := w.pool.QueryRow(ctx, `INSERT INTO cluster_duplicates AS d (key, qid, at, node)
			SELECT $1, '', now(), $2 FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async
			ON CONFLICT (key) DO UPDATE SET qid = '', at = now(), node = excluded.node
			WHERE (d.qid <> '' AND d.at <= now() - $3::interval)
			   OR (d.qid = '' AND d.at <= now() - $4::interval)
			RETURNING true`, k[:], w.node, w.window, claimTimeout).Scan(&claimed)
		switch {
		case err == nil:
			return "", &claim{w: w, key: k}, nil
		case !errors.Is(err, pgx.ErrNoRows):
			return "", nil, fmt.Errorf("the cluster's duplicate window: %w", err)
		}
		var qid string
		err = w.pool.QueryRow(ctx, `SELECT qid FROM cluster_duplicates WHERE key = $1`, k[:]).Scan(&qid)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			continue // the claim ended without a message: try again
		case err != nil:
			return "", nil, fmt.Errorf("the cluster's duplicate window: %w", err)
		case qid != "":
			return qid, nil, nil
		}
		select {
		case <-time.After(pollInterval):
		case <-ctx.Done():
			return "", nil, ctx.Err()
		}
	}
}

// claim is a Window's dedup.Claim.
type claim struct {
	w   *Window
	key dedup.Key
}

// Done records the queued message's ID against the key, or, with qid "",
// drops the claim so that a message waiting on it is queued instead. The
// message is committed already: a failure here can at worst let a retry
// through.
func (c *claim) Done(qid string) error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	err := c.w.exec(ctx, func(b *pgx.Batch) {
		if qid == "" {
			b.Queue(`DELETE FROM cluster_duplicates WHERE key = $1 AND qid = '' AND node = $2`, c.key[:], c.w.node)
		} else {
			b.Queue(recordQID, c.key[:], qid, c.w.node)
		}
	})
	if err != nil {
		return fmt.Errorf("recording in the cluster's duplicate window: %w", err)
	}
	return c.w.sweep(ctx)
}

// recordQID records a claimed message's queue ID. The window runs from
// the claim, a moment earlier: the row changes in no indexed column, so
// PostgreSQL updates it in place (a HOT update), without new index
// entries.
const recordQID = `UPDATE cluster_duplicates SET qid = $2 WHERE key = $1 AND node = $3`

// DoneStatement returns the statement that records the claim's message as
// qid, for the transaction that commits the message in the queue of the
// same database (pool): one round trip fewer than Done. ok is false when
// pool is another database's, or when the window is due for a sweep,
// which Done does: then call Done.
func (c *claim) DoneStatement(pool *pgxpool.Pool, qid string) (sql string, args []any, ok bool) {
	if pool != c.w.pool || qid == "" || c.w.sweepDue() {
		return "", nil, false
	}
	return recordQID, []any{c.key[:], qid, c.w.node}, true
}

// sweepDue reports whether the rows older than the window are to be
// deleted now (sweep).
func (w *Window) sweepDue() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return time.Since(w.swept) >= w.window/10
}

// sweep deletes the rows older than the window, at most once per tenth
// of it on this relay, so that the table follows the rate of mail times
// the window.
func (w *Window) sweep(ctx context.Context) error {
	w.mu.Lock()
	now := time.Now()
	if now.Sub(w.swept) < w.window/10 {
		w.mu.Unlock()
		return nil
	}
	w.swept = now
	w.mu.Unlock()
	// A claim that old is a relay's that died while queueing.
	if _, err := w.pool.Exec(ctx, `DELETE FROM cluster_duplicates
		WHERE (qid <> '' AND at <= now() - $1::interval) OR at <= now() - $2::interval`, w.window, claimTimeout); err != nil {
		return fmt.Errorf("expiring the cluster's duplicate window: %w", err)
	}
	return nil
}

// exec runs the statements queue adds in one round trip, as one
// transaction committed without waiting for the disk: a row of the window
// that a database crash undoes can at worst let a retry of its message
// through, and the synchronous commit of the message that follows a
// claim writes the claim to the disk anyway.
func (w *Window) exec(ctx context.Context, queue func(*pgx.Batch)) error {
	b := &pgx.Batch{}
	b.Queue("SELECT set_config('synchronous_commit', 'off', true)")
	queue(b)
	return w.pool.SendBatch(ctx, b).Close()
}
