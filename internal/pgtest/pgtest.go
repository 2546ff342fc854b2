// Package pgtest runs a throwaway PostgreSQL server for tests: Debian's
// server binaries (package postgresql), a fresh cluster made by initdb in
// a temporary folder, listening on a Unix socket in that folder and on a
// loopback port, stopped and removed when the test ends.
//
// PostgreSQL refuses to run as root; when the tests run as root (as CI
// does) the server runs as the user nobody, and the folder belongs to it.
// A missing PostgreSQL is a test failure, never a skip: install the
// package with `bash scripts/install-debs.sh postgresql` (scripts/test.sh
// does).
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"dkimrelay/internal/testkit"
)

// Role is the superuser initdb creates; tests connect as it, without a
// password (trust authentication on the test's own socket and loopback).
const Role = "dkimrelay"

// Server is one running test PostgreSQL.
type Server struct {
	// Dir holds the cluster (Dir/data), the socket (Dir/sock) and the
	// server's log (Dir/postgres.log).
	Dir string
	// SocketDir is the folder of the Unix socket, the host= of a
	// connection string.
	SocketDir string
	// Port is the loopback TCP port (127.0.0.1), also the number in the
	// socket's name.
	Port int

	t    testing.TB
	bin  string
	cred *syscall.Credential

	mu      sync.Mutex
	proc    *testkit.Process // nil while stopped
	dbCount atomic.Int32
}

// binDir finds Debian's server binaries: /usr/lib/postgresql/VERSION/bin,
// the newest version when several are installed.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	var found []string
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			found = append(found, d)
		}
	}
	if len(found) == 0 {
		return "", errors.New("pgtest: PostgreSQL's server is not installed (no /usr/lib/postgresql/*/bin/initdb): run `bash scripts/install-debs.sh postgresql`")
	}
	sort.Slice(found, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(found[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(found[j])))
		return vi < vj
	})
	return found[len(found)-1], nil
}

// Start makes a new cluster and runs its server until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := binDir()
	if err != nil {
		t.Fatal(err)
	}
	// A short folder name: a Unix socket's path has at most 107 bytes.
	dir, err := os.MkdirTemp("", "pgtest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &Server{Dir: dir, SocketDir: filepath.Join(dir, "sock"), t: t, bin: bin}
	if err := os.Mkdir(s.SocketDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		s.cred, err = nobody()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{dir, s.SocketDir} {
			if err := os.Chown(p, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"),
		"-U", Role, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	s.Port, _ = strconv.Atoi(testkit.FreePort(t, "127.0.0.1"))
	t.Cleanup(s.stop)
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	return s
}

// nobody is the user the server runs as when the tests run as root.
func nobody() (*syscall.Credential, error) {
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("pgtest: PostgreSQL will not run as root, and there is no user nobody to run it as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// Restart starts the server after Stop (Start already started it), on
// the same port and socket, and waits until it accepts connections.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return errors.New("pgtest: the server is already running")
	}
	logf, err := os.OpenFile(filepath.Join(s.Dir, "postgres.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), "-D", filepath.Join(s.Dir, "data"),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port="+strconv.Itoa(s.Port),
		"-c", "unix_socket_directories="+s.SocketDir,
		"-c", "max_connections=200",
		// The tests kill relays, never the machine: the data need not
		// reach the disk, and the tests run faster for it.
		"-c", "fsync=off",
		"-c", "full_page_writes=off",
		"-c", "shared_buffers=32MB",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true}
	s.proc = testkit.StartProcess(s.t, cmd)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := pgx.Connect(ctx, s.ConnString("postgres"))
		if err == nil {
			c.Close(ctx)
			cancel()
			return nil
		}
		cancel()
		select {
		case <-s.proc.Exited():
			s.proc = nil
			return fmt.Errorf("pgtest: postgres exited at start:\n%s", s.Log())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgtest: postgres does not accept connections after 30s (%v):\n%s", err, s.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop shuts the server down (fast shutdown: sessions are cut, committed
// data stays); Restart brings it back.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	s.proc.StopWith(syscall.SIGINT, 30*time.Second)
	s.proc = nil
}

func (s *Server) stop() {
	s.Stop()
	if s.t.Failed() {
		s.t.Logf("postgres log:\n%s", s.Log())
	}
}

// Log is the server's log so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "postgres.log"))
	return string(b)
}

// ConnString is a libpq connection string (key=value form) for database
// db over the Unix socket, without a password.
func (s *Server) ConnString(db string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", s.SocketDir, s.Port, Role, db)
}

// TCPConnString is ConnString over the loopback port.
func (s *Server) TCPConnString(db string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=%s sslmode=disable", s.Port, Role, db)
}

// NewDatabase creates an empty database of its own for the test and
// returns its connection string.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("test%d", s.dbCount.Add(1))
	if err := s.Exec("postgres", "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return s.ConnString(name)
}

// Exec runs SQL statements (separated by semicolons) in database db.
func (s *Server) Exec(db, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.ConnString(db))
	if err != nil {
		return fmt.Errorf("pgtest: connecting to %s: %w", db, err)
	}
	defer c.Close(ctx)
	for _, stmt := range strings.Split(sql, ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := c.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("pgtest: %s: %w", strings.TrimSpace(stmt), err)
		}
	}
	return nil
}
