// Package cluster connects the relay to the PostgreSQL database that
// several relays share (config [cluster], docs/cluster.md): it checks the
// connection string (no password in it; verified TLS to a database on
// another machine), opens a pool of connections with synchronous commit,
// and brings the schema up to date with the embedded migrations.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultMaxConns is the pool's size unless the connection string sets
// pool_max_conns: the delivery workers, the submissions committing at
// once and the queue commands share it.
const DefaultMaxConns = 32

// connectTimeout bounds a connection attempt, so that a database that is
// down makes submissions fail at once (451) instead of hanging.
const connectTimeout = 5 * time.Second

// Options configure Open.
type Options struct {
	// ConnString is cluster.postgres: a libpq connection string, in
	// key=value or URL form, without a password.
	ConnString string
	// Node is this relay's name in the cluster (cluster.node).
	Node   string
	Logger *slog.Logger // nil: discard
}

// DB is an open cluster database, its schema up to date.
type DB struct {
	Pool *pgxpool.Pool
	Node string
	log  *slog.Logger
}

// Open checks the connection string, connects and applies the
// migrations this relay knows and the database lacks.
func Open(ctx context.Context, opts Options) (*DB, error) {
	cfg, err := PoolConfig(opts.ConnString, opts.Node)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster.postgres: %w", err)
	}
	db := &DB{Pool: pool, Node: opts.Node, log: opts.Logger}
	if db.log == nil {
		db.log = slog.New(slog.DiscardHandler)
	}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the pool.
func (db *DB) Close() { db.Pool.Close() }

// PoolConfig parses and checks cluster.postgres: see CheckConnString.
// Every session commits synchronously, whatever the database's default,
// because a 250 follows the commit.
func PoolConfig(conn, node string) (*pgxpool.Config, error) {
	if err := CheckConnString(conn); err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(conn)
	if err != nil {
		return nil, fmt.Errorf("cluster.postgres: %w", err)
	}
	if err := checkTLS(cfg.ConnConfig); err != nil {
		return nil, err
	}
	if !strings.Contains(conn, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	cc := cfg.ConnConfig
	if cc.ConnectTimeout == 0 || cc.ConnectTimeout > connectTimeout {
		cc.ConnectTimeout = connectTimeout
	}
	cc.RuntimeParams["synchronous_commit"] = "on"
	if _, ok := cc.RuntimeParams["application_name"]; !ok {
		cc.RuntimeParams["application_name"] = "dkimrelay " + node
	}
	return cfg, nil
}

// CheckConnString refuses a connection string that carries a password:
// the config file is not a secret file. The password, where one is
// needed, comes from PGPASSFILE (or ~/.pgpass), mode 0600, or the
// database authenticates the relay's system user (peer authentication
// over the Unix socket).
func CheckConnString(conn string) error {
	if strings.TrimSpace(conn) == "" {
		return errors.New("cluster.postgres is empty")
	}
	const advice = "cluster.postgres must not carry a password: remove it and put it in a password file named by PGPASSFILE (mode 0600), or use peer authentication over the Unix socket (docs/cluster.md)"
	if strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://") {
		u, err := url.Parse(conn)
		if err != nil {
			// The error of url.Parse repeats the URL, password and all.
			return errors.New("cluster.postgres is not a valid postgres:// URL")
		}
		if _, ok := u.User.Password(); ok || u.Query().Has("password") {
			return errors.New(advice)
		}
		return nil
	}
	for _, field := range strings.Fields(conn) {
		key, _, _ := strings.Cut(field, "=")
		if strings.TrimSpace(key) == "password" {
			return errors.New(advice)
		}
	}
	return nil
}

// checkTLS demands verified TLS (sslmode=verify-full) for every host
// that is not this machine: the queue holds every message and the
// logins' password hashes.
func checkTLS(cc *pgx.ConnConfig) error {
	configs := append([]*pgconn.FallbackConfig{{Host: cc.Host, Port: cc.Port, TLSConfig: cc.TLSConfig}}, cc.Fallbacks...)
	for _, fc := range configs {
		if isLocal(fc.Host) {
			continue
		}
		if fc.TLSConfig == nil || fc.TLSConfig.InsecureSkipVerify {
			return fmt.Errorf("cluster.postgres: the database host %s is not on this machine: add sslmode=verify-full (and sslrootcert=FILE for a private CA), so that the connection is encrypted and the server's certificate verified", fc.Host)
		}
	}
	return nil
}

// isLocal reports whether host is a Unix socket folder or a loopback
// address or name.
func isLocal(host string) bool {
	if strings.HasPrefix(host, "/") {
		return true
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// DefaultNode is cluster.node's default: the machine's host name.
func DefaultNode() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "dkimrelay"
	}
	return h
}
