// Package pgstore keeps the reports received (DMARC aggregate and TLS
// reports) in the PostgreSQL database that several relays share
// (docs/cluster.md), behind the same store.Store as the files in
// data_dir: a report fetched or imported on any relay is stored once and
// listed by all.
package pgstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"dkimrelay/reports/store"
)

// Store is a store.Store in the table cluster_reports (created by the
// cluster's migrations).
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

var _ store.Store = (*Store)(nil)

// New returns the reports kept in pool.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool, now: time.Now}
}

// Add implements store.Store: the report is stored unless its kind,
// reporter and ID are there already, and durable once Add returns (the
// cluster's sessions commit synchronously).
func (s *Store) Add(ctx context.Context, r *store.Report) (bool, error) {
	if r.Kind != store.DMARC && r.Kind != store.TLSRPT {
		return false, fmt.Errorf("report store: unknown report kind %q", r.Kind)
	}
	stored := *r
	if stored.Imported.IsZero() {
		stored.Imported = s.now().UTC()
	}
	b, err := json.Marshal(&stored)
	if err != nil {
		return false, fmt.Errorf("report store: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO cluster_reports (kind, reporter, report_id, end_at, imported, body)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		string(r.Kind), strings.ToLower(r.Reporter), r.ID, r.End, stored.Imported, b)
	if err != nil {
		return false, fmt.Errorf("report store: adding to the cluster's database: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// List implements store.Store, in the order of the files' store.
func (s *Store) List(ctx context.Context, since time.Time) ([]*store.Report, error) {
	rows, err := s.pool.Query(ctx, `SELECT kind, reporter, report_id, body FROM cluster_reports
		WHERE $1::timestamptz IS NULL OR end_at >= $1`, sinceArg(since))
	if err != nil {
		return nil, fmt.Errorf("report store: reading the cluster's database: %w", err)
	}
	defer rows.Close()
	var out []*store.Report
	var damaged []error
	for rows.Next() {
		var kind, reporter, id string
		var body []byte
		if err := rows.Scan(&kind, &reporter, &id, &body); err != nil {
			return nil, fmt.Errorf("report store: reading the cluster's database: %w", err)
		}
		var r store.Report
		if err := json.Unmarshal(body, &r); err != nil || string(r.Kind) != kind || (r.DMARC == nil) == (r.TLS == nil) {
			damaged = append(damaged, fmt.Errorf("report store: the %s report %q of %s in the cluster's database is damaged: delete its row of cluster_reports and import the report again", kind, id, reporter))
			continue
		}
		out = append(out, &r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("report store: reading the cluster's database: %w", err)
	}
	slices.SortFunc(out, func(a, b *store.Report) int {
		return cmp.Or(a.End.Compare(b.End), cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(strings.ToLower(a.Reporter), strings.ToLower(b.Reporter)), cmp.Compare(a.ID, b.ID))
	})
	return out, errors.Join(damaged...)
}

// sinceArg is since for the query: NULL for all.
func sinceArg(since time.Time) *time.Time {
	if since.IsZero() {
		return nil
	}
	return &since
}
