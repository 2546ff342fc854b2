package cluster

import (
	"context"
	"dkimrelay/events"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// migrations are the schema's versions, NNNN_name.sql, applied in order,
// each once, forward only: a version is never edited once released; a
// change is a new file.
//
//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock (a number all relays agree on) held
// while migrating, so that relays starting at once apply each version
// once.
const migrationLock = 0x646b696d_00000001

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, n := range names {
		base := strings.TrimPrefix(n, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("cluster: migration %s is not named NNNN_name.sql", base)
		}
		b, err := migrations.ReadFile(n)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("cluster: migration %d is missing", i+1)
		}
	}
	return ms, nil
}

// SchemaVersion is the newest schema version this relay knows.
func SchemaVersion() int {
	ms, err := loadMigrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

// migrate applies the missing migrations, each in its own transaction,
// under an advisory lock held on one connection.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("cluster.postgres: connecting: %w (is the database running, and may this user connect to it? see docs/cluster.md)", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(migrationLock)); err != nil {
		return fmt.Errorf("cluster: taking the migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(migrationLock))
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS dkimrelay_schema (
		version    int PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now(),
		applied_by text NOT NULL)`); err != nil {
		return fmt.Errorf("cluster: creating the schema table (does the role own its database? see docs/cluster.md): %w", err)
	}
	var have int
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM dkimrelay_schema").Scan(&have); err != nil {
		return fmt.Errorf("cluster: reading the schema version: %w", err)
	}
	if have > len(ms) {
		return fmt.Errorf("cluster: the database's schema is version %d, newer than this relay's %d: upgrade this relay to the version the others run", have, len(ms))
	}
	for _, m := range ms[have:] {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return fmt.Errorf("cluster: migration %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			tx.Rollback(ctx)
			return fmt.Errorf("cluster: migration %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO dkimrelay_schema (version, name, applied_by) VALUES ($1, $2, $3)", m.version, m.name, db.Node); err != nil {
			tx.Rollback(ctx)
			return fmt.Errorf("cluster: migration %s: %w", m.name, err)
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("cluster: migration %s: %w", m.name, err)
		}
		db.log.Info(events.ClusterMigrated, events.VersionKey, m.version, events.NameKey, m.name)
	}
	return nil
}
