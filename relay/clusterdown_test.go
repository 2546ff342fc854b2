package relay

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// TestClusterDatabaseDown: PostgreSQL stopped for 20 seconds under load.
// The relays answer 451 4.3.0 while it is down and never 250 for a message
// they could not store; once it is back they accept and deliver again by
// themselves, and every acknowledged message arrives.
func TestClusterDatabaseDown(t *testing.T) {
	rig := newClusterRig(t, 2)
	pg, conn, sink := rig.pg, rig.conn, rig.sink
	var addrs []string
	for _, h := range rig.relays {
		h.Start()
		addrs = append(addrs, h.Addr())
	}

	var mu sync.Mutex
	acked := map[string]string{}
	var n, tempFailed atomic.Int64
	var other []error
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("g%d-%d", g, n.Add(1))
				qid, err := sendOne(addrs[g%2], id)
				var se *smtp.SMTPError
				switch {
				case err == nil:
					mu.Lock()
					acked[id] = qid
					mu.Unlock()
				case errors.As(err, &se) && se.Code == 451 && se.EnhancedCode == (smtp.EnhancedCode{4, 3, 0}):
					tempFailed.Add(1)
					time.Sleep(50 * time.Millisecond)
				default:
					mu.Lock()
					other = append(other, err)
					mu.Unlock()
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	time.Sleep(2 * time.Second)
	before := count()
	pg.Stop()
	stopped := time.Now()
	time.Sleep(3 * time.Second)
	during := count()
	time.Sleep(17 * time.Second)
	if c := count(); c != during {
		t.Errorf("%d messages acknowledged while the database was down", c-during)
	}
	if err := pg.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("database down for %v", time.Since(stopped).Round(time.Second))
	restarted := count()
	deadline := time.Now().Add(30 * time.Second)
	for count() < restarted+20 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	after := count()
	t.Logf("acknowledged: %d before the stop, %d in its first 3 s, %d after the restart; %d answered 451 4.3.0", before, during-before, after-restarted, tempFailed.Load())
	if tempFailed.Load() == 0 {
		t.Error("no submission was answered 451 4.3.0 while the database was down")
	}
	if after < restarted+20 {
		t.Errorf("only %d messages acknowledged after the database came back", after-restarted)
	}
	if len(other) > 0 {
		t.Logf("%d other errors, e.g. %v", len(other), other[0])
	}
	got := awaitArrivals(t, sink, acked, conn, 60*time.Second)
	dups := 0
	for _, c := range got {
		dups += c - 1
	}
	t.Logf("all %d acknowledged messages arrived (%d duplicates)", len(acked), dups)
}
