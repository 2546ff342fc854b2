// Package pgpauses keeps the providers' throttling pauses
// (delivery.provider_pause) in the PostgreSQL database that several
// relays share (docs/cluster.md): a row per provider with when its pause
// ends and the throttles in a row that made it, so that a provider that
// throttles one relay gets no mail from any until the pause ends.
package pgpauses

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"dkimrelay/relay/pacing"
)

// Store is a pacing.PauseStore in the table cluster_pauses (created by
// the cluster's migrations).
type Store struct {
	pool *pgxpool.Pool
	node string
}

var _ pacing.PauseStore = (*Store)(nil)

// New returns the pauses kept in pool, node naming this relay in the rows
// it writes.
func New(pool *pgxpool.Pool, node string) *Store {
	return &Store{pool: pool, node: node}
}

// Active returns the pauses that end after now, by provider.
func (s *Store) Active(ctx context.Context, now time.Time) (map[string]pacing.Pause, error) {
	rows, err := s.pool.Query(ctx, "SELECT provider, until, pauses, reply FROM cluster_pauses WHERE until > $1", now)
	if err != nil {
		return nil, fmt.Errorf("reading the cluster's provider pauses: %w", err)
	}
	defer rows.Close()
	active := map[string]pacing.Pause{}
	for rows.Next() {
		var name string
		var p pacing.Pause
		if err := rows.Scan(&name, &p.Until, &p.Pauses, &p.Reply); err != nil {
			return nil, fmt.Errorf("reading the cluster's provider pauses: %w", err)
		}
		active[name] = p
	}
	return active, rows.Err()
}

// Save records provider's pause, unless one that ends later is there.
func (s *Store) Save(ctx context.Context, provider string, p pacing.Pause) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO cluster_pauses AS c (provider, until, pauses, reply, node)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (provider) DO UPDATE SET until = excluded.until, pauses = excluded.pauses,
			reply = excluded.reply, node = excluded.node, updated_at = now()
		WHERE c.until < excluded.until`, provider, p.Until, p.Pauses, p.Reply, s.node)
	if err != nil {
		return fmt.Errorf("saving provider %s's pause for the cluster: %w", provider, err)
	}
	return nil
}
