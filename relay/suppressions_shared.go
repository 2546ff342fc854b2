package relay

import (
	"context"
	"time"

	"dkimrelay/cluster"
	"dkimrelay/suppressions"
)

// sharedSuppressions is the suppression list of a relay in a cluster: the
// file in data_dir, which the cluster's mirror keeps as the database has
// it, changed through the mirror so that a suppression one relay learns
// reaches every relay (docs/cluster.md).
type sharedSuppressions struct {
	*suppressions.FileStore
	mirror *cluster.Mirror
}

// changeTimeout bounds one change of the shared list.
const changeTimeout = 30 * time.Second

// sharedSuppressions returns the suppression list the relay uses: the file
// alone, or with cluster.postgres the file changed through the mirror.
func (r *Relay) sharedSuppressions(s *suppressions.FileStore) suppressions.Store {
	if r.mirror == nil {
		return s
	}
	return sharedSuppressions{FileStore: s, mirror: r.mirror}
}

// Add implements suppressions.Store.
func (s sharedSuppressions) Add(e suppressions.Entry) error {
	ctx, cancel := context.WithTimeout(context.Background(), changeTimeout)
	defer cancel()
	return s.mirror.Change(ctx, func() error { return s.FileStore.Add(e) })
}

// Remove implements suppressions.Store.
func (s sharedSuppressions) Remove(addr string) (removed bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), changeTimeout)
	defer cancel()
	err = s.mirror.Change(ctx, func() error {
		removed, err = s.FileStore.Remove(addr)
		return err
	})
	return removed, err
}
