package submission

import (
	"strings"
	"sync/atomic"
	"testing"

	"dkimrelay/internal/testkit"
	"dkimrelay/keys"
)

// TestTransactionSnapshot: a transaction keeps the keys it saw at MAIL. A
// reload between MAIL and DATA that takes the domain's only key away and
// brings another does not refuse the message or sign it with a key the
// MAIL checks never saw; the next transaction sees the new keys.
func TestTransactionSnapshot(t *testing.T) {
	db := testUsers(t)
	before := &Snapshot{Users: db, Keys: testKeyring(t, map[string]keys.Algorithm{"before": keys.Ed25519})}
	after := &Snapshot{Users: db, Keys: testKeyring(t, map[string]keys.Algorithm{"after": keys.Ed25519})}
	var current atomic.Pointer[Snapshot]
	current.Store(before)
	addr, q := testServer(t, current.Load)

	c := testkit.DialSubmission(t, addr, "app", benchPassword)
	send := func(reload func()) {
		t.Helper()
		if err := c.Mail("notifications@example.org", nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt("someone@example.net", nil); err != nil {
			t.Fatal(err)
		}
		reload()
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(benchMessage(1, 100)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("DATA after a reload: %v", err)
		}
	}
	// selectorsOf lists the s= tags of each queued message that is not
	// in seen.
	seen := map[string]bool{}
	selectorsOf := func() []string {
		var selectors []string
		for _, m := range q.List() {
			if seen[m.ID] {
				continue
			}
			seen[m.ID] = true
			for _, sig := range m.Envelope.Signatures {
				for _, tag := range strings.Split(strings.Join(strings.Fields(sig), ""), ";") {
					if sel, ok := strings.CutPrefix(tag, "s="); ok {
						selectors = append(selectors, sel)
					}
				}
			}
		}
		return selectors
	}
	send(func() { current.Store(after) })
	if got := selectorsOf(); strings.Join(got, ",") != "before" {
		t.Errorf("the transaction begun before the reload was signed with %v, want the key of MAIL's time: [before]", got)
	}
	send(func() {})
	if got := selectorsOf(); strings.Join(got, ",") != "after" {
		t.Errorf("the transaction after the reload was signed with %v, want the new key: [after]", got)
	}
}
