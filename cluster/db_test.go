package cluster

import (
	"context"
	"strings"
	"sync"
	"testing"

	"dkimrelay/internal/pgtest"
)

func TestCheckConnString(t *testing.T) {
	tests := []struct {
		conn string
		ok   bool
	}{
		{"host=/run/postgresql dbname=dkimrelay", true},
		{"postgres:///dkimrelay?host=/run/postgresql", true},
		{"host=db.example.org dbname=dkimrelay password=s3cret", false},
		{"postgres://relay:s3cret@db.example.org/dkimrelay", false},
		{"postgres://relay@db.example.org/dkimrelay?password=s3cret", false},
		{"", false},
	}
	for _, tt := range tests {
		err := CheckConnString(tt.conn)
		if (err == nil) != tt.ok {
			t.Errorf("CheckConnString(%q) = %v, want ok %v", tt.conn, err, tt.ok)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error repeats the password: %v", err)
		}
	}
}

func TestRemoteDatabaseNeedsVerifiedTLS(t *testing.T) {
	tests := []struct {
		conn string
		ok   bool
	}{
		{"host=/run/postgresql dbname=d", true},
		{"host=127.0.0.1 dbname=d sslmode=disable", true},
		{"host=localhost dbname=d", true},
		{"host=db.example.org dbname=d", false},
		{"host=db.example.org dbname=d sslmode=require", false},
		{"host=db.example.org dbname=d sslmode=verify-ca", false},
		{"host=db.example.org dbname=d sslmode=verify-full", true},
	}
	for _, tt := range tests {
		_, err := PoolConfig(tt.conn, "n")
		if (err == nil) != tt.ok {
			t.Errorf("PoolConfig(%q) = %v, want ok %v", tt.conn, err, tt.ok)
		}
	}
}

// TestMigrationsOnceWhenRelaysStartTogether: four relays opening a fresh
// database at once apply each migration once.
func TestMigrationsOnceWhenRelaysStartTogether(t *testing.T) {
	pg := pgtest.Start(t)
	conn := pg.NewDatabase(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		wg.Go(func() {
			db, err := Open(context.Background(), Options{ConnString: conn, Node: string(rune('a' + i))})
			if err != nil {
				errs <- err
				return
			}
			db.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	db, err := Open(context.Background(), Options{ConnString: conn, Node: "check"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, max int
	if err := db.Pool.QueryRow(context.Background(), "SELECT count(*), max(version) FROM dkimrelay_schema").Scan(&rows, &max); err != nil {
		t.Fatal(err)
	}
	if rows != SchemaVersion() || max != SchemaVersion() {
		t.Fatalf("%d migrations recorded up to %d, want each of %d once", rows, max, SchemaVersion())
	}
	if _, err := db.Pool.Exec(context.Background(), "INSERT INTO dkimrelay_schema (version, name, applied_by) VALUES (9999, 'future', 'x')"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), Options{ConnString: conn, Node: "old"}); err == nil || !strings.Contains(err.Error(), "upgrade this relay") {
		t.Fatalf("a relay older than the schema started: %v", err)
	}
}
