package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dkimrelay/config"
	"dkimrelay/internal/pgtest"
	"dkimrelay/relay/queue"
)

// TestClusterCommands: a single relay's logins, keys and queued message
// imported into the cluster (twice: the second run finds everything
// there); another machine's users, keys and queue commands then see and
// change the same, with no relay running anywhere.
func TestClusterCommands(t *testing.T) {
	pg := pgtest.Start(t)
	conn := pg.NewDatabase(t)
	cfgs := map[string]string{}
	for _, node := range []string{"a", "b"} {
		dir := filepath.Join(t.TempDir(), node)
		if r := runCLI(t, "", "init", "--domain", "example.org", "--dir", dir, "--algorithm", "ed25519"); r.code != exitOK {
			t.Fatalf("init %s: %d %s", node, r.code, r.stderr)
		}
		cfgs[node] = filepath.Join(dir, "dkimrelay.toml")
	}
	cli := func(node, stdin string, args ...string) string {
		t.Helper()
		r := runCLI(t, stdin, append([]string{"--config", cfgs[node]}, args...)...)
		if r.code != exitOK {
			t.Fatalf("%s: %s: exit %d: %s", node, strings.Join(args, " "), r.code, r.stderr)
		}
		return r.stdout
	}
	cli("a", "", "users", "add", "app", "--allow", "@example.org", "--generate")
	cfgA, err := config.Load(cfgs["a"])
	if err != nil {
		t.Fatal(err)
	}
	q, err := queue.Open(queue.Options{Dir: cfgA.QueueDir(), Delivery: cfgA.Delivery})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := q.NewDraft()
	d.Write([]byte("Subject: waiting\r\n\r\nhello\r\n"))
	if err := d.Commit(queue.Envelope{From: "app@example.org", Rcpts: []string{"r@example.net"}, User: "app"}); err != nil {
		t.Fatal(err)
	}
	qid := d.ID()
	q.Close()
	// The corpus holds damaged inputs too: they are skipped, exit 1.
	if r := runCLI(t, "", "--config", cfgs["a"], "reports", "import", reportCorpus); !strings.Contains(r.stderr, "the rest were imported") {
		t.Fatalf("reports import: exit %d: %s", r.code, r.stderr)
	}
	reportsA := cli("a", "", "reports", "--json")

	for node, path := range cfgs {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "\n[cluster]\npostgres = %q\nnode = %q\n", conn, node)
		f.Close()
	}
	out := cli("a", "", "cluster", "import")
	if !strings.Contains(out, "Queue: 1 messages moved into the database, 0 were there already.") || strings.Contains(out, " 0 files copied") {
		t.Fatalf("cluster import:\n%s", out)
	}
	var copied int
	if _, err := fmt.Sscanf(out[strings.Index(out, "Received reports: "):], "Received reports: %d copied into the database, 0 were there already.", &copied); err != nil || copied == 0 {
		t.Fatalf("cluster import copied %d reports (%v):\n%s", copied, err, out)
	}
	out = cli("a", "", "cluster", "import")
	if !strings.Contains(out, "(the database had them all)") || !strings.Contains(out, "Queue: 0 messages moved") ||
		!strings.Contains(out, fmt.Sprintf("Received reports: 0 copied into the database, %d were there already.", copied)) {
		t.Fatalf("cluster import run again:\n%s", out)
	}
	if got := cli("b", "", "reports", "--json"); got != reportsA {
		t.Errorf("b's reports after the import:\n%s\nwant a's before it:\n%s", got, reportsA)
	}

	if out := cli("b", "", "users", "list"); !strings.Contains(out, "app") {
		t.Fatalf("b's users list misses a's login:\n%s", out)
	}
	keysA := cli("a", "", "keys", "list")
	sel := strings.Fields(strings.Split(keysA, "\n")[1])[1]
	if out := cli("b", "", "keys", "list"); !strings.Contains(out, sel) {
		t.Fatalf("b's keys list misses a's key %s:\n%s\na's:\n%s", sel, out, keysA)
	}
	cli("b", "", "users", "add", "bot", "--allow", "@example.org", "--generate")
	if out := cli("a", "", "users", "list"); !strings.Contains(out, "bot") {
		t.Fatalf("a's users list misses the login added on b:\n%s", out)
	}

	if out := cli("b", "", "queue", "list"); !strings.Contains(out, qid) {
		t.Fatalf("queue list on b misses %s:\n%s", qid, out)
	}
	cli("b", "", "queue", "retry", "--all")
	cli("b", "", "queue", "delete", qid)
	if out := cli("a", "", "queue", "list"); strings.Contains(out, qid) {
		t.Fatalf("%s still listed after its deletion:\n%s", qid, out)
	}
}
