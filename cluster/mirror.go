package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"dkimrelay/events"
	"dkimrelay/internal/atomicfile"
)

// Shared are the paths, relative to data_dir, that the relays of a
// cluster share through the database: the logins, the key store and the
// suppression list.
var Shared = []string{"users.toml", "keys", "suppressions.json"}

// filesChannel is the LISTEN/NOTIFY channel of a change to the shared
// files.
const filesChannel = "dkimrelay_files"

// filesLock is the advisory lock that orders the changes to the shared
// files against each other and against the relays copying them.
const filesLock = 0x646b696d_00000002

// ErrNoSharedFiles: the database holds no logins or keys yet.
var ErrNoSharedFiles = errors.New("the cluster database holds no logins or keys yet: run `dkimrelay cluster import` on the relay that has them (docs/cluster.md)")

// Mirror keeps the shared files of one data_dir in step with the
// database: the database is the truth, data_dir a copy that the keys and
// users packages read and change as they do without a cluster.
type Mirror struct {
	db      *DB
	dataDir string
}

// NewMirror returns the mirror of dataDir's shared files.
func NewMirror(db *DB, dataDir string) *Mirror { return &Mirror{db: db, dataDir: dataDir} }

// skipped reports whether a file name is a lock or a temporary file,
// which stay local.
func skipped(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".lock")
}

// local reads the shared files present in data_dir, by relative path.
func (m *Mirror) local() (map[string][]byte, error) {
	files := make(map[string][]byte)
	for _, root := range Shared {
		err := filepath.WalkDir(filepath.Join(m.dataDir, root), func(p string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			if d.IsDir() || skipped(d.Name()) || !d.Type().IsRegular() {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(m.dataDir, p)
			files[filepath.ToSlash(rel)] = b
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("cluster: reading %s: %w", root, err)
		}
	}
	return files, nil
}

// remote reads the shared files in the database, in tx.
func remote(ctx context.Context, tx pgx.Tx) (map[string][]byte, error) {
	rows, err := tx.Query(ctx, "SELECT path, body FROM cluster_files")
	if err != nil {
		return nil, err
	}
	files := make(map[string][]byte)
	for rows.Next() {
		var p string
		var b []byte
		if err := rows.Scan(&p, &b); err != nil {
			rows.Close()
			return nil, err
		}
		files[p] = b
	}
	rows.Close()
	return files, rows.Err()
}

// locked runs fn in a transaction that holds the shared files' lock.
func (m *Mirror) locked(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, m.db.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(filesLock)); err != nil {
			return err
		}
		return fn(tx)
	})
}

// Pull makes data_dir's shared files those of the database: files written
// (atomically, mode 0600, folders 0700) where they differ, removed where
// the database has none. With nothing in the database it changes nothing
// and returns ErrNoSharedFiles.
func (m *Mirror) Pull(ctx context.Context) (changed bool, err error) {
	err = m.locked(ctx, func(tx pgx.Tx) error {
		changed, err = m.pull(ctx, tx)
		return err
	})
	return changed, err
}

func (m *Mirror) pull(ctx context.Context, tx pgx.Tx) (bool, error) {
	want, err := remote(ctx, tx)
	if err != nil {
		return false, fmt.Errorf("cluster: reading the shared logins and keys: %w", err)
	}
	if len(want) == 0 {
		return false, ErrNoSharedFiles
	}
	have, err := m.local()
	if err != nil {
		return false, err
	}
	changed := false
	for p, b := range want {
		if old, ok := have[p]; ok && bytes.Equal(old, b) {
			continue
		}
		if !validPath(p) {
			return false, fmt.Errorf("cluster: the database names a shared file %q outside the shared folders", p)
		}
		full := filepath.Join(m.dataDir, filepath.FromSlash(p))
		if err := mkdirs(m.dataDir, filepath.Dir(full)); err != nil {
			return false, err
		}
		if err := atomicfile.Write(full, b, 0o600); err != nil {
			return false, err
		}
		changed = true
	}
	for p := range have {
		if _, ok := want[p]; !ok {
			if err := os.Remove(filepath.Join(m.dataDir, filepath.FromSlash(p))); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return false, err
			}
			changed = true
		}
	}
	return changed, nil
}

// validPath accepts the relative paths of the shared files only.
func validPath(p string) bool {
	if p != filepath.ToSlash(filepath.Clean(p)) || strings.HasPrefix(p, "/") || strings.Contains(p, "..") {
		return false
	}
	for _, root := range Shared {
		if p == root || strings.HasPrefix(p, root+"/") {
			return true
		}
	}
	return false
}

// push writes data_dir's shared files to the database where they differ
// and removes those data_dir no longer has; with changes it notifies the
// other relays.
func (m *Mirror) push(ctx context.Context, tx pgx.Tx) (bool, error) {
	have, err := m.local()
	if err != nil {
		return false, err
	}
	stored, err := remote(ctx, tx)
	if err != nil {
		return false, err
	}
	changed := false
	for p, b := range have {
		if old, ok := stored[p]; ok && bytes.Equal(old, b) {
			continue
		}
		if _, err := tx.Exec(ctx, `INSERT INTO cluster_files (path, body, updated_by) VALUES ($1, $2, $3)
			ON CONFLICT (path) DO UPDATE SET body = $2, updated_by = $3, updated_at = now()`, p, b, m.db.Node); err != nil {
			return false, err
		}
		changed = true
	}
	for p := range stored {
		if _, ok := have[p]; !ok {
			if _, err := tx.Exec(ctx, "DELETE FROM cluster_files WHERE path = $1", p); err != nil {
				return false, err
			}
			changed = true
		}
	}
	if changed {
		if _, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", filesChannel, m.db.Node); err != nil {
			return false, err
		}
	}
	return changed, nil
}

// Change runs fn, which changes the shared files in data_dir (a `users`
// or `keys` command), between a Pull and a push, under the lock: so fn
// starts from the cluster's logins and keys, its change reaches every
// relay (LISTEN/NOTIFY), and two changes never interleave.
func (m *Mirror) Change(ctx context.Context, fn func() error) error {
	return m.locked(ctx, func(tx pgx.Tx) error {
		if _, err := m.pull(ctx, tx); err != nil && !errors.Is(err, ErrNoSharedFiles) {
			return err
		}
		if err := fn(); err != nil {
			return err
		}
		if _, err := m.push(ctx, tx); err != nil {
			return fmt.Errorf("cluster: storing the change in the database: %w", err)
		}
		return nil
	})
}

// Import copies data_dir's shared files into the database where it has
// none yet (a file already there is kept: the cluster's copy wins) and
// returns the paths copied. Running it again copies nothing.
func (m *Mirror) Import(ctx context.Context) (copied []string, err error) {
	err = m.locked(ctx, func(tx pgx.Tx) error {
		have, err := m.local()
		if err != nil {
			return err
		}
		for p, b := range have {
			tag, err := tx.Exec(ctx, `INSERT INTO cluster_files (path, body, updated_by) VALUES ($1, $2, $3)
				ON CONFLICT (path) DO NOTHING`, p, b, m.db.Node)
			if err != nil {
				return err
			}
			if tag.RowsAffected() > 0 {
				copied = append(copied, p)
			}
		}
		if len(copied) > 0 {
			_, err = tx.Exec(ctx, "SELECT pg_notify($1, $2)", filesChannel, m.db.Node)
		}
		return err
	})
	return copied, err
}

// Watch pulls the shared files whenever another relay changes them
// (LISTEN/NOTIFY), after every reconnection and at least every
// fallbackPull, and calls changed after each pull that changed something,
// until ctx ends.
func (m *Mirror) Watch(ctx context.Context, changed func()) {
	pull := func() {
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		ok, err := m.Pull(pctx)
		switch {
		case errors.Is(err, ErrNoSharedFiles):
		case err != nil:
			if ctx.Err() == nil {
				m.db.log.Error(events.ClusterPullFailed, events.ErrorKey, err.Error(), events.DetailKey, "the logins and keys in use stay as they were")
			}
		case ok:
			changed()
		}
	}
	for ctx.Err() == nil {
		conn, err := m.db.Pool.Acquire(ctx)
		if err == nil {
			_, err = conn.Exec(ctx, "LISTEN "+filesChannel)
		}
		if err != nil {
			if conn != nil {
				conn.Release()
			}
			sleep(ctx, 2*time.Second)
			continue
		}
		pull() // what changed while not listening
		for ctx.Err() == nil {
			wctx, cancel := context.WithTimeout(ctx, fallbackPull)
			_, err := conn.Conn().WaitForNotification(wctx)
			cancel()
			if ctx.Err() != nil {
				break
			}
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				break // the connection failed: listen anew
			}
			pull()
		}
		// A connection left in LISTEN must not return to the pool.
		conn.Hijack().Close(context.Background())
	}
}

// fallbackPull bounds how long a missed notification goes unnoticed.
const fallbackPull = time.Minute

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// mkdirs creates the folders from root down to dir that are missing, mode
// 0700, each owned like its parent: a command run as root in the relay's
// data dir leaves folders the relay can use.
func mkdirs(root, dir string) error {
	if dir == root || !strings.HasPrefix(dir, root+string(filepath.Separator)) {
		return nil
	}
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := mkdirs(root, filepath.Dir(dir)); err != nil {
		return err
	}
	if err := atomicfile.MkdirLikeParent(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}
