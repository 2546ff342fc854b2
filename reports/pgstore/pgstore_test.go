package pgstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"dkimrelay/cluster/clustertest"
	"dkimrelay/reports/dmarcrpt"
	"dkimrelay/reports/store"
	"dkimrelay/reports/store/storetest"
)

// TestReportsSharedByRelays: a report added on two relays at once is
// stored once (its reporter compared without regard to case), and every
// relay lists every report, oldest first, since a time or all.
func TestReportsSharedByRelays(t *testing.T) {
	var stores []*Store
	for _, db := range clustertest.OpenNodes(t, "a", "b") {
		stores = append(stores, New(db.Pool))
	}
	a, b := stores[0], stores[1]
	ctx := context.Background()
	end := storetest.End
	storetest.AddOnce(t, a, b)
	dmarc := store.NewDMARC(&dmarcrpt.Feedback{Metadata: dmarcrpt.Metadata{OrgName: "Yahoo", ReportID: "d1",
		Begin: end.Add(-23 * time.Hour), End: end.Add(time.Hour)}})
	dmarc.From = "imap INBOX/42"
	if ok, err := b.Add(ctx, dmarc); !ok || err != nil {
		t.Fatalf("DMARC report: added %v, %v", ok, err)
	}
	if _, err := a.Add(ctx, &store.Report{Kind: "arf", Reporter: "x", ID: "1"}); err == nil {
		t.Error("a report of an unknown kind was stored")
	}

	all, err := a.List(ctx, time.Time{})
	if err != nil || len(all) != 3 {
		t.Fatalf("List: %v, %v", all, err)
	}
	if all[0].ID != "r0" || all[1].ID != "r1" || all[2].ID != "d1" || all[0].Imported.IsZero() {
		t.Errorf("List order: %s, %s, %s; want r0, r1, d1", all[0].ID, all[1].ID, all[2].ID)
	}
	if all[2].DMARC == nil || all[2].DMARC.Metadata.OrgName != "Yahoo" || all[2].From != "imap INBOX/42" || !all[2].End.Equal(end.Add(time.Hour)) {
		t.Errorf("DMARC report read back as %+v", all[2])
	}
	if all[1].TLS == nil || len(all[1].TLS.Policies) != 1 || all[1].TLS.Policies[0].Successful != 1 {
		t.Errorf("TLS report read back as %+v", all[1])
	}
	recent, _ := b.List(ctx, end.Add(-time.Hour))
	if len(recent) != 2 || recent[0].ID != "r1" || recent[1].ID != "d1" {
		t.Errorf("List since: %v", recent)
	}

	// A damaged row is named; the others are still listed.
	if _, err := a.pool.Exec(ctx, `INSERT INTO cluster_reports VALUES ('tlsrpt', 'broken', 'b1', now(), now(), '{')`); err != nil {
		t.Fatal(err)
	}
	all, err = b.List(ctx, time.Time{})
	if len(all) != 3 || err == nil || !strings.Contains(err.Error(), `"b1" of broken`) {
		t.Errorf("List with a damaged row: %d reports, %v", len(all), err)
	}
}
