// Package pgtlsrpt keeps the TLS-RPT session counts (RFC 8460) in the
// PostgreSQL database that several relays share (docs/cluster.md): each
// relay adds what it counted to cluster_tlsrpt_counts every minute, and
// one relay of the cluster, under an advisory lock, takes them all once
// a day and sends one report per policy domain for the whole cluster.
package pgtlsrpt

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"dkimrelay/cluster"
	"dkimrelay/tlsrpt"
)

// opTimeout bounds Flush, which gets no context.
const opTimeout = 10 * time.Second

// Counts is a tlsrpt.Counts in the cluster's database.
type Counts struct {
	db *cluster.DB

	mu    sync.Mutex
	delta tlsrpt.Tally // counted since the last Flush
}

var _ tlsrpt.Counts = (*Counts)(nil)

// New returns the counts kept in db (tables made by the cluster's
// migrations).
func New(db *cluster.DB) *Counts {
	return &Counts{db: db, delta: tlsrpt.Tally{}}
}

// Record counts one session, in memory until the next Flush.
func (c *Counts) Record(sess tlsrpt.Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.delta.Add(sess)
}

// Flush adds the sessions counted since the last Flush to the database.
// With the database away they stay in memory, for the next Flush.
func (c *Counts) Flush() error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	c.mu.Lock()
	delta := c.delta
	c.delta = tlsrpt.Tally{}
	c.mu.Unlock()
	if len(delta) == 0 {
		return nil
	}
	b, err := json.Marshal(delta.Reports())
	if err == nil {
		_, err = c.db.Pool.Exec(ctx, "INSERT INTO cluster_tlsrpt_counts (node, policies) VALUES ($1, $2)", c.db.Node, b)
	}
	if err != nil {
		c.mu.Lock()
		c.delta.Merge(delta.Reports()...)
		c.mu.Unlock()
		return fmt.Errorf("tlsrpt: adding the session counts to the cluster's database (kept for the next try): %w", err)
	}
	return nil
}

// TakeDue takes every relay's counts and starts the cluster's next span,
// when the present one began at least age ago, in one transaction under
// the advisory lock cluster.TLSReportLock: of relays asking at once, one
// takes the counts and the others find them taken or the lock held.
func (c *Counts) TakeDue(ctx context.Context, age time.Duration) (tlsrpt.DateRange, map[string][]tlsrpt.PolicyReport, bool, error) {
	if err := c.Flush(); err != nil {
		return tlsrpt.DateRange{}, nil, false, err
	}
	var span tlsrpt.DateRange
	total := tlsrpt.Tally{}
	due := false
	ran, err := c.db.TryDuty(ctx, cluster.TLSReportLock, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, "SELECT start, now() FROM cluster_tlsrpt_span WHERE id = 1 FOR UPDATE").Scan(&span.Start, &span.End); err != nil {
			return fmt.Errorf("tlsrpt: reading the cluster's report span: %w", err)
		}
		if due = span.End.Sub(span.Start) >= age; !due {
			return nil
		}
		// DELETE ... RETURNING takes exactly the rows it removes, those a
		// relay adds meanwhile wait for the next span.
		rows, err := tx.Query(ctx, "DELETE FROM cluster_tlsrpt_counts RETURNING policies")
		if err != nil {
			return fmt.Errorf("tlsrpt: taking the cluster's session counts: %w", err)
		}
		for rows.Next() {
			var ps []tlsrpt.PolicyReport
			if err := rows.Scan(&ps); err != nil {
				rows.Close()
				return fmt.Errorf("tlsrpt: reading the cluster's session counts: %w", err)
			}
			total.Merge(ps...)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("tlsrpt: taking the cluster's session counts: %w", err)
		}
		if _, err := tx.Exec(ctx, "UPDATE cluster_tlsrpt_span SET start = $1 WHERE id = 1", span.End); err != nil {
			return fmt.Errorf("tlsrpt: starting the cluster's next report span: %w", err)
		}
		return nil
	})
	if err != nil || !ran || !due {
		return tlsrpt.DateRange{}, nil, false, err
	}
	span.Start, span.End = span.Start.UTC(), span.End.UTC()
	return span, total.ByDomain(), true, nil
}
