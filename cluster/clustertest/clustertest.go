// Package clustertest opens the cluster's database for the tests of the
// packages that keep their state there, on a throwaway PostgreSQL.
package clustertest

import (
	"context"
	"testing"

	"dkimrelay/cluster"
	"dkimrelay/internal/pgtest"
)

// OpenNodes starts PostgreSQL with a database of the test's own and opens
// it once as each of nodes, as the relays of a cluster do; the
// connections close when the test ends.
func OpenNodes(t testing.TB, nodes ...string) []*cluster.DB {
	t.Helper()
	conn := pgtest.Start(t).NewDatabase(t)
	var dbs []*cluster.DB
	for _, node := range nodes {
		dbs = append(dbs, Open(t, conn, node))
	}
	return dbs
}

// Open opens the database conn as node; the connection closes when the
// test ends.
func Open(t testing.TB, conn, node string) *cluster.DB {
	t.Helper()
	db, err := cluster.Open(context.Background(), cluster.Options{ConnString: conn, Node: node})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}
