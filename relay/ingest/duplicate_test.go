package ingest

import (
	"dkimrelay/config"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dkimrelay/dkim"
	"dkimrelay/internal/testkit"
	"dkimrelay/relay/dedup"
	"dkimrelay/relay/queue"
)

// TestAcceptDuplicate checks that with a duplicate index a submitted
// message identical to one queued (a new Message-ID and Date) is answered
// with the first queue ID and not queued, while a different one, a bounce,
// and a failed message are not taken as the first.
func TestAcceptDuplicate(t *testing.T) {
	dir := t.TempDir()
	q, err := queue.Open(queue.Options{Dir: filepath.Join(dir, "queue"), Delivery: config.Defaults().Delivery})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	dups, err := dedup.Open(filepath.Join(dir, "duplicates"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer dups.Close()
	logs := testkit.NewLogs(t)
	in := New(q, logs.Logger())
	in.SetDuplicates(dups)
	keys := []dkim.Key{newKey(t, "example.org", "a")}
	submit := func(msgID, body string) string {
		t.Helper()
		h := "From: someone@example.org\r\nSubject: hello\r\nMessage-ID: <" + msgID + "@example.org>\r\n\r\n"
		qid, err := in.Accept(Message{From: "someone@example.org", Rcpts: []string{"a@example.net"}, User: "app",
			Keys: keys, Header: readHeader(t, h), Body: strings.NewReader(body), Remote: "127.0.0.1:5000"})
		if err != nil {
			t.Fatal(err)
		}
		return qid
	}
	broken := Message{From: "someone@example.org", Rcpts: []string{"a@example.net"}, User: "app", Keys: keys,
		Header: readHeader(t, "Subject: hello\r\n\r\n"), Body: &failingReader{strings.NewReader("Hi.\r\n"), errors.New("client broke off")}}
	if _, err := in.Accept(broken); err == nil {
		t.Fatal("Accept of a broken-off message succeeded")
	}
	first := submit("1", "Hi.\r\n")
	if again := submit("2", "Hi.\r\n"); again != first {
		t.Errorf("the copy was queued as %s, want the first's %s", again, first)
	}
	if other := submit("3", "Hello.\r\n"); other == first {
		t.Error("a different body was taken for the first message")
	}
	if q.Len() != 2 {
		t.Errorf("%d messages queued, want 2", q.Len())
	}
	evs := logs.Events("duplicate")
	if len(evs) != 1 || evs[0]["qid"] != first || evs[0]["user"] != "app" {
		t.Errorf("duplicate events %v, want one with qid %s and user app", evs, first)
	}
}

// TestAcceptBulkUnsubscribe checks the accepted event of bulk mail says
// whether it carries both RFC 8058 one-click fields, signed.
func TestAcceptBulkUnsubscribe(t *testing.T) {
	dir := t.TempDir()
	q, err := queue.Open(queue.Options{Dir: filepath.Join(dir, "queue"), Delivery: config.Defaults().Delivery})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	logs := &testkit.Logs{}
	in := New(q, logs.Logger())
	keys := []dkim.Key{newKey(t, "example.org", "a")}
	for _, h := range []string{
		"From: news@example.org\r\nSubject: news\r\nList-Unsubscribe: <https://example.org/u>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\n",
		"From: news@example.org\r\nSubject: news\r\nList-Unsubscribe: <https://example.org/u>\r\n\r\n",
	} {
		if _, err := in.Accept(Message{From: "news@example.org", Rcpts: []string{"a@example.net"}, User: "news", Class: "bulk",
			Keys: keys, Header: readHeader(t, h), Body: strings.NewReader("Hi.\r\n")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := in.Accept(Message{From: "n@example.org", Rcpts: []string{"a@example.net"}, User: "app",
		Keys: keys, Header: readHeader(t, "From: n@example.org\r\nSubject: reset\r\n\r\n"), Body: strings.NewReader("Hi.\r\n")}); err != nil {
		t.Fatal(err)
	}
	evs := logs.Events("accepted")
	var got []any
	for _, e := range evs {
		got = append(got, e["unsubscribe"])
	}
	if len(got) != 3 || got[0] != "signed" || got[1] != "missing" || got[2] != nil {
		t.Errorf("unsubscribe fields %v, want signed, missing and none for transactional mail", got)
	}
}
