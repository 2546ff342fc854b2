package pgtlsrpt

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"dkimrelay/tlsrpt"
)

var _ tlsrpt.Pending = (*Counts)(nil)

// TakePending implements tlsrpt.Pending: it deletes and returns the
// cluster's waiting reports whose next try is not after due; of relays
// taking at once, each report goes to one of them.
func (c *Counts) TakePending(due time.Time) ([]tlsrpt.PendingReport, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	rows, err := c.db.Pool.Query(ctx, "DELETE FROM cluster_tlsrpt_pending WHERE next_try <= $1 RETURNING report", due)
	if err != nil {
		return nil, fmt.Errorf("tlsrpt: taking the reports waiting for another try from the cluster's database: %w", err)
	}
	ps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (tlsrpt.PendingReport, error) {
		var p tlsrpt.PendingReport
		err := row.Scan(&p)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("tlsrpt: reading the reports waiting for another try: %w", err)
	}
	return ps, nil
}

// KeepPending implements tlsrpt.Pending: the reports are in the cluster's
// database, in one transaction, when it returns.
func (c *Counts) KeepPending(ps []tlsrpt.PendingReport) error {
	if len(ps) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	err := pgx.BeginFunc(ctx, c.db.Pool, func(tx pgx.Tx) error {
		for _, p := range ps {
			b, err := json.Marshal(p)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "INSERT INTO cluster_tlsrpt_pending (domain, next_try, report) VALUES ($1, $2, $3)", p.Domain, p.Next, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("tlsrpt: keeping %d report(s) for another try in the cluster's database: %w", len(ps), err)
	}
	return nil
}
