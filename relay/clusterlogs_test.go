package relay

import (
	"bufio"
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"dkimrelay/cluster"
	"dkimrelay/internal/smtpsink"
	"dkimrelay/relay/queue"
)

// TestClusterStoryAcrossRelays: a message accepted and deferred by relay
// a, which then stops, is delivered by relay b; the events kept in the
// database tell the whole story, each with the relay that logged it.
func TestClusterStoryAcrossRelays(t *testing.T) {
	rig := newClusterRig(t, 2)
	conn, sink, a, b := rig.conn, rig.sink, rig.relays[0], rig.relays[1]
	var greylisted atomic.Bool
	greylisted.Store(true)
	sink.SetReply(smtpsink.At(smtpsink.Rcpt, func(string) error {
		if greylisted.Load() {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Greylisted"}
		}
		return nil
	}))
	a.Start()
	qid := mustSend(t, a.Addr(), []string{"someone@cluster.test"}, hardMessage("story", "someone@cluster.test"))
	a.WaitEvent("deferred", 10*time.Second, func(ev map[string]any) bool { return ev["qid"] == qid })
	var listed []string
	a.Daemon.walkQueue(func(m *queue.Message) error { listed = append(listed, m.ID); return nil })
	if len(listed) != 1 || listed[0] != qid {
		t.Errorf("the status page's queue = %v, want [%s]", listed, qid)
	}
	a.Stop()
	greylisted.Store(false)
	b.Start()
	b.WaitEvent("delivered", 30*time.Second, func(ev map[string]any) bool { return ev["qid"] == qid })
	b.Stop() // writes the events still waiting

	ctx := context.Background()
	db, err := cluster.Open(ctx, cluster.Options{ConnString: conn, Node: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	story, err := cluster.Story(ctx, db, qid)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	sc := bufio.NewScanner(story)
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("%v: %s", err, sc.Text())
		}
		if ev["qid"] != qid {
			t.Errorf("event of another message: %s", sc.Text())
		}
		got = append(got, ev["msg"].(string)+"@"+ev["node"].(string))
	}
	want := "accepted@a deferred@a delivered@b"
	if s := strings.Join(got, " "); !strings.HasPrefix(s, "accepted@a deferred@a") || !strings.HasSuffix(s, "delivered@b") {
		t.Fatalf("story = %s, want %s", s, want)
	}
}
