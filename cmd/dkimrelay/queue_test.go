package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"dkimrelay/control"
	"dkimrelay/internal/testkit"
)

// TestQueueCommands drives a running relay whose destination defers:
// queue list/show/retry/delete, their --json, `logs --id` over the
// relay's own log, and the metrics scraped along the way.
func TestQueueCommands(t *testing.T) {
	tr := startTestRelay(t)

	// A wrong password, then two messages; in the second session a sender
	// the login may not use is refused first.
	c := tr.dial()
	if err := tr.login(c, "wrong password"); err == nil {
		t.Fatal("AUTH with a wrong password succeeded")
	}
	c.Close()
	c = tr.dial()
	if err := tr.login(c, testkit.Password); err != nil {
		t.Fatal(err)
	}
	q1 := tr.send(c, "notifications@example.org", "alice@example.net", "bob@example.net", "dan@example.com")
	c.Quit()
	c = tr.dial()
	if err := tr.login(c, testkit.Password); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("someone@example.com", nil); err == nil {
		t.Fatal("MAIL FROM a sender outside the login's list was accepted")
	}
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	q2 := tr.send(c, "notifications@example.org", "carol@example.net")
	c.Quit()

	// Both are attempted at once; the MX takes dan@example.com and
	// defers the others.
	list := func() map[string]control.QueueMessage {
		t.Helper()
		var msgs []control.QueueMessage
		out := tr.mustCLI("queue", "list", "--json")
		if err := json.Unmarshal([]byte(out), &msgs); err != nil {
			t.Fatalf("queue list --json is not a JSON array of messages: %v\n%s", err, out)
		}
		m := map[string]control.QueueMessage{}
		for _, msg := range msgs {
			m[msg.QID] = msg
		}
		return m
	}
	// attempts is the fewest attempts of a message's waiting recipients.
	attempts := func(qid string) int {
		n := -1
		for _, r := range list()[qid].Rcpts {
			if r.Waiting() && (n < 0 || r.Attempts < n) {
				n = r.Attempts
			}
		}
		return n
	}
	tr.waitUntil("both messages were attempted once", func() bool { return attempts(q1) >= 1 && attempts(q2) >= 1 })

	msgs := list()
	if len(msgs) != 2 {
		t.Fatalf("queue list --json: %d messages, want 2: %v", len(msgs), msgs)
	}
	m1 := msgs[q1]
	if m1.From != "notifications@example.org" || m1.User != qtUser || len(m1.Rcpts) != 3 || m1.Received.IsZero() {
		t.Errorf("queue list --json for %s = %+v", q1, m1)
	}
	for _, r := range m1.Rcpts {
		if r.Addr == "dan@example.com" {
			if r.State != "delivered" || r.Attempts != 1 || r.NextAttempt != nil || !strings.Contains(r.LastReply, "250") {
				t.Errorf("recipient %+v: want delivered after 1 attempt with the 250 reply", r)
			}
			continue
		}
		if r.State != "deferred" || r.Attempts != 1 || !strings.Contains(r.LastReply, "451") || r.NextAttempt == nil ||
			r.NextAttempt.Before(time.Now().Add(30*time.Minute)) {
			t.Errorf("recipient %+v: want deferred after 1 attempt, a 451 reply and a next attempt about retry_min (1h) away", r)
		}
	}

	out := tr.mustCLI("queue", "list")
	t.Logf("queue list:\n%s", out)
	for _, want := range []string{q1, q2, "from <notifications@example.org>", "user app", "alice@example.net", "bob@example.net",
		"carol@example.net  deferred  1 attempt", "alice@example.net  deferred   1 attempt", "dan@example.com    delivered  1 attempt", "1 attempt", "next attempt", "(in ", "last reply: mx.example.net said: 451 4.7.1 Greylisted, try again later",
		"2 messages in the queue, 3 recipients waiting."} {
		if !strings.Contains(out, want) {
			t.Errorf("queue list lacks %q:\n%s", want, out)
		}
	}

	// Metrics, scraped now that the relay has done all of the above. The
	// worker logs its events (which the counters come from) just after
	// it records the attempt in the queue: wait for them.
	tr.waitUntil("the three deferrals are logged", func() bool {
		got := tr.scrape()
		return got[`dkimrelay_recipients_total{outcome="deferred"}`] == 3 && got[`dkimrelay_recipients_total{outcome="delivered"}`] == 1
	})
	got := tr.scrape()
	for k, v := range map[string]float64{
		`dkimrelay_connections_total`:                                  3,
		`dkimrelay_auth_failures_total{mechanism="PLAIN"}`:             1,
		`dkimrelay_auth_attempts_total{mechanism="PLAIN",result="ok"}`: 2,
		`dkimrelay_messages_rejected_total{reason="sender"}`:           1,
		`dkimrelay_messages_accepted_total{kind="submission"}`:         2,
		`dkimrelay_spf_results_total{result="pass"}`:                   2,
		`dkimrelay_dkim_signing_seconds_count`:                         2,
		`dkimrelay_recipients_total{outcome="deferred"}`:               3,
		`dkimrelay_messages_deferred_total`:                            2,
		`dkimrelay_queue_messages`:                                     2,
		`dkimrelay_recipients_total{outcome="delivered"}`:              1,
		`dkimrelay_messages_delivered_total`:                           1,
		`dkimrelay_delivery_tls_total{version="none"}`:                 1,
		`dkimrelay_delivery_delay_seconds_count`:                       1,
	} {
		if got[k] != v {
			t.Errorf("metric %s = %v, want %v", k, got[k], v)
		}
	}
	if age := got[`dkimrelay_queue_oldest_message_age_seconds`]; age <= 0 {
		t.Errorf("oldest message age = %v, want > 0", age)
	}
	keyAge := false
	for k := range got {
		if strings.HasPrefix(k, "dkimrelay_dkim_key_age_seconds{") && strings.Contains(k, `domain="example.org"`) && strings.Contains(k, `state="active"`) {
			keyAge = true
		}
	}
	if !keyAge {
		t.Error("no key age reported for the active example.org key")
	}
	if code, body := tr.get("/readyz"); code != 200 {
		t.Errorf("/readyz = %d %q, want 200", code, body)
	}
	if code, _ := tr.get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d, want 200", code)
	}

	// show: the message with its header, DKIM-Signature first.
	out = tr.mustCLI("queue", "show", q1)
	t.Logf("queue show:\n%s", out)
	if !strings.Contains(out, "Subject: Password reset") || !strings.Contains(out, "DKIM-Signature:") ||
		strings.Index(out, "DKIM-Signature:") > strings.Index(out, "Subject:") || !strings.Contains(out, "alice@example.net") {
		t.Errorf("queue show %s:\n%s", q1, out)
	}
	var shown control.QueueMessage
	if err := json.Unmarshal([]byte(tr.mustCLI("queue", "show", "--json", q1)), &shown); err != nil {
		t.Fatalf("queue show --json: %v", err)
	}
	if shown.QID != q1 || !strings.Contains(shown.Headers, "Subject: Password reset\r\n") || strings.Contains(shown.Headers, "Your reset link") {
		t.Errorf("queue show --json = %+v, want the header and not the body", shown)
	}

	// retry: the message is due now and attempted a second time at once
	// (retry_min would otherwise keep it waiting an hour).
	out = tr.mustCLI("queue", "retry", q1)
	if !strings.Contains(out, q1+" is due now") {
		t.Errorf("queue retry: %q", out)
	}
	tr.waitUntil("the retried message was attempted again", func() bool { return attempts(q1) >= 2 })
	if n := tr.mx.RcptAttempts("alice@example.net"); n != 2 {
		t.Errorf("the MX saw alice@example.net %d times, want 2", n)
	}
	if a := attempts(q2); a != 1 {
		t.Errorf("%s, not retried, has %d attempts, want 1", q2, a)
	}
	var retried control.QueueRetried
	if err := json.Unmarshal([]byte(tr.mustCLI("queue", "retry", "--all", "--json")), &retried); err != nil || retried.Messages != 2 {
		t.Errorf("queue retry --all --json = %+v, %v; want 2 messages", retried, err)
	}
	tr.waitUntil("retry --all reached the second message", func() bool { return attempts(q2) >= 2 })

	// delete: gone from the queue, and logged.
	out = tr.mustCLI("queue", "delete", q2)
	if !strings.Contains(out, "Deleted "+q2) || !strings.Contains(out, "carol@example.net") {
		t.Errorf("queue delete: %q", out)
	}
	if _, ok := list()[q2]; ok {
		t.Errorf("%s is still listed after delete", q2)
	}
	code, _, errs := tr.cli("queue", "show", q2)
	if code != 1 || !strings.Contains(errs, "no message "+q2) {
		t.Errorf("queue show of a deleted message: exit %d, %q; want 1 and a sentence", code, errs)
	}
	code, _, errs = tr.cli("queue", "delete", q2)
	if code != 1 || !strings.Contains(errs, "no message "+q2) {
		t.Errorf("second delete: exit %d, %q; want 1", code, errs)
	}

	// The deleted message's whole story, from the relay's own log, once
	// the worker has logged the last attempts: 3 deferrals, 2 after
	// `retry QID`, 3 after `retry --all`.
	tr.waitUntil("every deferral is logged", func() bool {
		return tr.scrape()[`dkimrelay_recipients_total{outcome="deferred"}`] == 8
	})
	var story []map[string]any
	sc := bufio.NewScanner(strings.NewReader(tr.mustCLI("logs", "--id", q2, "--json")))
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("logs --json line %q: %v", sc.Text(), err)
		}
		story = append(story, ev)
	}
	var names []string
	for _, ev := range story {
		names = append(names, fmt.Sprint(ev["msg"]))
		if ev["qid"] != q2 {
			t.Errorf("logs --id %s printed an event of %v", q2, ev["qid"])
		}
	}
	if strings.Join(names, " ") != "accepted deferred deferred deleted" {
		t.Errorf("logs --id %s --json events = %q, want accepted, two deferrals, deleted", q2, names)
	}
	out = tr.mustCLI("logs", "--id", q1, "--status", "deferred", "--rcpt", "ALICE@example.net")
	// Three attempts: the first, `retry QID`, `retry --all`.
	if n := strings.Count(out, "\n"); n != 3 || !strings.Contains(out, "rcpt=alice@example.net") || !strings.Contains(out, "451 4.7.1") {
		t.Errorf("logs --id --status --rcpt: want alice's three deferrals, got:\n%s", out)
	}

	got = tr.scrape()
	if got[`dkimrelay_messages_deleted_total`] != 1 || got[`dkimrelay_queue_messages`] != 1 || got[`dkimrelay_recipients_total{outcome="deferred"}`] != 8 {
		t.Errorf("after retries and delete: deleted %v, queue %v, deferred recipients %v; want 1, 1, 3+2+3",
			got[`dkimrelay_messages_deleted_total`], got[`dkimrelay_queue_messages`], got[`dkimrelay_recipients_total{outcome="deferred"}`])
	}

	// Usage mistakes are exit 2.
	for _, args := range [][]string{{"queue", "retry"}, {"queue", "retry", "--all", q1}, {"queue", "show"}, {"queue", "delete", q1, q2}} {
		if code, _, _ := tr.cli(args...); code != 2 {
			t.Errorf("dkimrelay %s: exit %d, want 2", strings.Join(args, " "), code)
		}
	}
}

func (tr *testRelay) get(path string) (int, string) {
	tr.T.Helper()
	resp, err := http.Get("http://" + tr.metrics + path)
	if err != nil {
		tr.T.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// scrape reads /metrics into samples keyed by name and labels.
func (tr *testRelay) scrape() map[string]float64 {
	tr.T.Helper()
	code, body := tr.get("/metrics")
	if code != 200 {
		tr.T.Fatalf("/metrics: %d", code)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			tr.T.Fatalf("bad sample %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// TestQueueNoRelay: with no relay running, each queue command says so and
// exits 1.
func TestQueueNoRelay(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "dkimrelay.toml")
	if err := os.WriteFile(cfg, []byte("hostname = \"mail.example.org\"\n[[domains]]\nname = \"example.org\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"queue", "list"}, {"queue", "list", "--json"}, {"queue", "show", "0695ZQ2M8K1T3HXW4B7C"},
		{"queue", "retry", "--all"}, {"queue", "delete", "0695ZQ2M8K1T3HXW4B7C"},
	} {
		var out, errb strings.Builder
		e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
		code := run(e, append([]string{"--config", cfg}, args...))
		if code != 1 || !strings.Contains(errb.String(), "no relay is running") || !strings.Contains(errb.String(), "dkimrelay serve") {
			t.Errorf("dkimrelay %s without a relay: exit %d, stderr %q; want 1 and a sentence saying so", strings.Join(args, " "), code, errb.String())
		}
	}
}
