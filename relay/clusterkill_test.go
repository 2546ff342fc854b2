package relay

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5"

	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
	"dkimrelay/resolver/dnstest"
)

// clusterZone: the destination of the cluster tests, on a loopback host
// of its own (the relays listen on 127.0.0.2 to 127.0.0.4).
const clusterZone = `
cluster.test.     MX 10 mx.cluster.test.
mx.cluster.test.  A  127.0.0.9
`

// clusterRelay prepares a relay of a cluster on conn, named node,
// listening on host.
func clusterRelay(t *testing.T, dns *dnstest.Server, port int, conn, node, host string) *hardRelay {
	t.Helper()
	o := clusterOptions(port, conn, node)
	o.submission = fmt.Sprintf("listen = [%q]\nlisten_tls = []", host+":0")
	o.delivery = "workers = 4"
	return prepareHardRelay(t, dns, o)
}

// startClusterChild runs h's relay as a child process that the test can
// kill, and returns it with its submission address.
func startClusterChild(t *testing.T, h *hardRelay) (*testkit.Process, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestClusterKillOneRelay$")
	cmd.Env = append(os.Environ(), killRelayEnv+"="+h.Config.Path)
	p := testkit.StartProcess(t, cmd)
	t.Cleanup(p.Kill)
	return p, p.AwaitLine("ADDR ", 30*time.Second)
}

// sendOne submits one message on a connection of its own, as Mastodon
// does, and returns its QID or the error.
func sendOne(addr, id string) (string, error) {
	c, err := testkit.OpenSubmission(addr, "app", testkit.Password)
	if err != nil {
		return "", err
	}
	defer c.Close()
	qid, err := testkit.Send(c, "app@"+hardDomain, []string{"someone@cluster.test"}, []byte(hardMessage(id, "someone@cluster.test")), nil)
	if err == nil {
		c.Quit()
	}
	return qid, err
}

var helloID = regexp.MustCompile(`Hello ([^.\r\n]+)\.`)

// arrivals counts the sink's messages by test ID.
func arrivals(sink *smtpsink.Sink) map[string]int {
	got := make(map[string]int)
	for _, m := range sink.Messages() {
		if sub := helloID.FindSubmatch(m.Data); sub != nil {
			got[string(sub[1])]++
		}
	}
	return got
}

// awaitArrivals waits until every acknowledged ID reached the sink and
// the shared queue is empty, and returns the arrivals.
func awaitArrivals(t *testing.T, sink *smtpsink.Sink, acked map[string]string, conn string, within time.Duration) map[string]int {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := arrivals(sink)
		var missing []string
		for id := range acked {
			if got[id] == 0 {
				missing = append(missing, id)
			}
		}
		queued := queuedInDB(t, conn)
		if len(missing) == 0 && queued == 0 {
			return got
		}
		if time.Now().After(deadline) {
			if len(missing) > 0 {
				t.Fatalf("%d of %d acknowledged messages never reached the sink, e.g. %s (QID %s); %d still queued", len(missing), len(acked), missing[0], acked[missing[0]], queued)
			}
			t.Fatalf("everything arrived but %d messages are still queued", queued)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// leasedBy counts the messages node holds a lease on.
func leasedBy(t *testing.T, conn, node string) int {
	t.Helper()
	return countInDB(t, conn, "SELECT count(*) FROM queue_messages WHERE lease_owner = '"+node+"'")
}

func queuedInDB(t *testing.T, conn string) int {
	return countInDB(t, conn, "SELECT count(*) FROM queue_messages")
}

func countInDB(t *testing.T, conn, query string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, conn)
	if err != nil {
		return -1
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, query).Scan(&n); err != nil {
		return -1
	}
	return n
}

// TestClusterKillOneRelay: three relays on one database, on 127.0.0.2, .3
// and .4, take 600 messages from nine clients while they deliver to a
// slow MX; one relay is killed with SIGKILL in the middle. Every message
// acknowledged, by any relay, reaches the sink, including those the dead
// relay had accepted or leased; duplicates are counted, none is missing.
func TestClusterKillOneRelay(t *testing.T) {
	if path := os.Getenv(killRelayEnv); path != "" {
		runRelayChild(path)
		return
	}
	rig := newClusterRig(t, 3)
	conn, sink := rig.conn, rig.sink
	// While hold is open (not closed), the MX keeps every DATA waiting: the
	// deliveries in flight when the kill comes stay in flight, their
	// messages leased by the relay that dies.
	var holdMu sync.Mutex
	hold := make(chan struct{})
	close(hold)
	sink.SetDataHook(func(*smtp.Conn, io.Reader) error {
		holdMu.Lock()
		h := hold
		holdMu.Unlock()
		<-h
		time.Sleep(5 * time.Millisecond)
		return nil
	})
	var procs []*testkit.Process
	var addrs []string
	for _, h := range rig.relays {
		p, addr := startClusterChild(t, h)
		procs, addrs = append(procs, p), append(addrs, addr)
	}

	const total = 600
	var mu sync.Mutex
	acked := map[string]string{}
	var next atomic.Int64
	var refused atomic.Int64
	var wg sync.WaitGroup
	for g := range 9 {
		addr := addrs[g%3]
		wg.Go(func() {
			for {
				n := next.Add(1)
				if n > total {
					return
				}
				id := fmt.Sprintf("m%d", n)
				qid, err := sendOne(addr, id)
				if err != nil {
					// The relay died: this client moves to the next one, as
					// Mastodon does when a name has several addresses.
					refused.Add(1)
					addr = addrs[(g+1)%3]
					continue
				}
				mu.Lock()
				acked[id] = qid
				mu.Unlock()
			}
		})
	}
	for next.Load() < total/3 {
		time.Sleep(5 * time.Millisecond)
	}
	holdMu.Lock()
	hold = make(chan struct{})
	holdMu.Unlock()
	leased := 0
	for deadline := time.Now().Add(10 * time.Second); leased == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		leased = leasedBy(t, conn, "b")
	}
	procs[1].Kill() // relay b, mid-flight
	close(hold)
	if leased == 0 {
		t.Fatal("relay b held no lease when it was killed")
	}
	t.Logf("relay b killed holding %d leases", leased)
	wg.Wait()
	t.Logf("%d messages acknowledged, %d attempts failed with relay b's death", len(acked), refused.Load())
	if len(acked) < total*9/10 {
		t.Fatalf("only %d of %d messages acknowledged", len(acked), total)
	}
	start := time.Now()
	got := awaitArrivals(t, sink, acked, conn, 90*time.Second)
	dups := 0
	for _, c := range got {
		dups += c - 1
	}
	t.Logf("all %d acknowledged messages arrived (%d duplicates), the last %v after the load ended", len(acked), dups, time.Since(start).Round(100*time.Millisecond))
}
