package tlsrpt

import (
	"context"
	"time"
)

// Counts is where the session counts wait for the next report: a Store
// in data_dir, or, when several relays share a database
// (docs/cluster.md), a table every relay adds its counts to, reported
// once for the cluster.
type Counts interface {
	// Record counts one session.
	Record(Session)
	// Flush keeps the counts recorded since the last Flush (the relay
	// calls it every FlushEvery and when it stops).
	Flush() error
	// TakeDue returns the counts gathered since the last take, per
	// policy domain, with the span they cover, and starts a new span,
	// when that span began at least age ago; ok is false, and nothing is
	// taken, when it is younger or another relay is taking it now.
	TakeDue(ctx context.Context, age time.Duration) (span DateRange, byDomain map[string][]PolicyReport, ok bool, err error)
}
