// Package storetest holds the contract every reports store keeps
// (store.Store), run by the tests of each implementation.
package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"dkimrelay/reports/store"
	"dkimrelay/reports/tlsrpt"
)

// End is the end of the period of the reports AddOnce stores.
var End = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// TLSReport is a TLS report from org with report ID id, for the day up to
// end.
func TLSReport(org, id string, end time.Time) *store.Report {
	return store.NewTLS(&tlsrpt.Report{OrganizationName: org, ReportID: id, Start: end.Add(-24 * time.Hour), End: end,
		Policies: []tlsrpt.Policy{{Type: "sts", Domain: "example.org", Successful: 1}}})
}

// AddOnce checks stores that hold the same reports (one store, or one per
// relay over a shared database): a report added on all of them at once is
// stored once, its reporter compared without regard to case; every store
// lists every report, oldest first, since a time or all. It leaves two
// TLS reports stored: r0 ending two days before End and r1 ending at End,
// both from "Google Inc.".
func AddOnce(t *testing.T, stores ...store.Store) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	added := 0
	for i := range 8 {
		wg.Go(func() {
			ok, err := stores[i%len(stores)].Add(ctx, TLSReport("Google Inc.", "r1", End))
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				added++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if added != 1 {
		t.Errorf("added %d times, want once", added)
	}
	last := stores[len(stores)-1]
	if ok, err := last.Add(ctx, TLSReport("GOOGLE INC.", "r1", End)); ok || err != nil {
		t.Errorf("the same report with the reporter in capitals: added %v, %v; want not added", ok, err)
	}
	if ok, _ := stores[0].Add(ctx, TLSReport("Google Inc.", "r0", End.Add(-48*time.Hour))); !ok {
		t.Error("a second report was not stored")
	}
	for _, st := range stores {
		all, err := st.List(ctx, time.Time{})
		if err != nil || len(all) != 2 || all[0].ID != "r0" || all[1].ID != "r1" || all[0].Imported.IsZero() {
			t.Fatalf("List: %v, %v", all, err)
		}
		recent, _ := st.List(ctx, End.Add(-time.Hour))
		if len(recent) != 1 || recent[0].ID != "r1" {
			t.Errorf("List since: %v", recent)
		}
	}
}
