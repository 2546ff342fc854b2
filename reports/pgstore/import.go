package pgstore

import (
	"context"
	"fmt"
	"time"

	"dkimrelay/reports/store"
)

// Imported counts what Import did.
type Imported struct {
	Copied  int // added to the database
	Present int // there already (an earlier run, or another relay's import)
}

// Import copies every report of from (a relay's files, data_dir/reports)
// into the database, each keeping when it was first imported and from
// where. A report is known by its kind, reporter and ID, so running it
// again, after an interruption or not, copies only what is missing and
// nothing twice. The files stay as they are.
func (s *Store) Import(ctx context.Context, from store.Store) (Imported, error) {
	var n Imported
	reports, err := from.List(ctx, time.Time{})
	if err != nil && len(reports) == 0 {
		return n, fmt.Errorf("report store: reading the reports to import: %w", err)
	}
	listErr := err // a damaged file: the others are still copied
	for _, r := range reports {
		added, err := s.Add(ctx, r)
		if err != nil {
			return n, fmt.Errorf("report store: importing %s report %q of %s: %w", r.Kind, r.ID, r.Reporter, err)
		}
		if added {
			n.Copied++
		} else {
			n.Present++
		}
	}
	if listErr != nil {
		return n, fmt.Errorf("report store: some reports were not imported: %w", listErr)
	}
	return n, nil
}
