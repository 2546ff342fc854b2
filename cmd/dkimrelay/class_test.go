package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"

	"dkimrelay/control"
	"dkimrelay/internal/testkit"
)

// TestTrafficClass adds a bulk login with `users add --class bulk` to a
// running relay and checks that its mail is queued as bulk, the default
// login's as transactional: in `users list`, `queue list` (text and JSON)
// and the metrics.
func TestTrafficClass(t *testing.T) {
	tr := startTestRelay(t)
	out := tr.mustCLI("users", "add", "news", "--class", "bulk", "--allow", "@example.org", "--generate")
	m := regexp.MustCompile(`Password \(shown once\): (\S+)`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "(bulk)") || !strings.Contains(out, "has reloaded") {
		t.Fatalf("users add --class bulk printed:\n%s", out)
	}
	if code, _, errs := tr.cli("users", "add", "x", "--class", "urgent", "--allow", "@example.org", "--generate"); code != 2 || !strings.Contains(errs, "transactional or bulk") {
		t.Errorf("users add --class urgent: exit %d, %s; want a usage error naming the classes", code, errs)
	}
	if out := tr.mustCLI("users", "class", "news", "transactional"); !strings.Contains(out, "now sends transactional mail") {
		t.Errorf("users class printed %q", out)
	}
	tr.mustCLI("users", "class", "news", "bulk")
	if code, _, _ := tr.cli("users", "class", "nobody", "bulk"); code != 1 {
		t.Errorf("users class of a missing login: exit %d, want 1", code)
	}
	list := tr.mustCLI("users", "list")
	if !regexp.MustCompile(`(?m)^news +bulk +@example.org$`).MatchString(list) || !regexp.MustCompile(`(?m)^app +transactional `).MatchString(list) {
		t.Errorf("users list does not show the classes:\n%s", list)
	}

	c := tr.dial()
	if err := c.Auth(sasl.NewPlainClient("", "news", m[1])); err != nil {
		t.Fatal(err)
	}
	bulk := tr.send(c, "news@example.org", "alice@example.net")
	c.Quit()
	c = tr.dial()
	if err := tr.login(c, testkit.Password); err != nil {
		t.Fatal(err)
	}
	transactional := tr.send(c, "notifications@example.org", "bob@example.net")
	c.Quit()

	var msgs []control.QueueMessage
	if err := json.Unmarshal([]byte(tr.mustCLI("queue", "list", "--json")), &msgs); err != nil {
		t.Fatal(err)
	}
	classes := map[string]string{}
	for _, m := range msgs {
		classes[m.QID] = m.Class
	}
	if classes[bulk] != "bulk" || classes[transactional] != "transactional" {
		t.Errorf("queue list --json classes %v, want %s bulk and %s transactional", classes, bulk, transactional)
	}
	text := tr.mustCLI("queue", "list")
	for qid, class := range map[string]string{bulk: "bulk", transactional: "transactional"} {
		if !regexp.MustCompile(`(?m)^` + qid + `  .*  ` + class + `  `).MatchString(text) {
			t.Errorf("queue list does not show %s as %s:\n%s", qid, class, text)
		}
	}
	tr.waitUntil("both classes counted", func() bool {
		got := tr.scrape()
		return got[`dkimrelay_messages_accepted_by_class_total{class="bulk"}`] == 1 &&
			got[`dkimrelay_messages_accepted_by_class_total{class="transactional"}`] == 1
	})
}
