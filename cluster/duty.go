package cluster

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// The advisory locks (numbers all relays agree on) of the cluster-wide
// duties: one relay at a time does each.
const (
	// EventsPruneLock guards the removal of the events past retention.
	EventsPruneLock = 0x646b696d_00000003
	// TLSReportLock guards the daily TLS-RPT send.
	TLSReportLock = 0x646b696d_00000004
)

// TryDuty runs fn in a transaction that holds the advisory lock lock, and
// commits it, unless another relay holds that lock now: then ran is
// false and fn does not run. The lock ends with the transaction, so a
// relay that dies in the middle of a duty releases it.
func (db *DB) TryDuty(ctx context.Context, lock int64, fn func(tx pgx.Tx) error) (ran bool, err error) {
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("cluster: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var mine bool
	if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", lock).Scan(&mine); err != nil {
		return false, fmt.Errorf("cluster: taking a duty's lock: %w", err)
	}
	if !mine {
		return false, nil
	}
	if err := fn(tx); err != nil {
		return false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("cluster: %w", err)
	}
	return true, nil
}
