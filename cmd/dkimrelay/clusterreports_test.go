package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dkimrelay/internal/pgtest"
)

// TestClusterReports: with cluster.postgres set, the reports imported on
// one machine are stored in the database, once: another machine finds
// them stored already and summarizes the same.
func TestClusterReports(t *testing.T) {
	conn := pgtest.Start(t).NewDatabase(t)
	cfgs := map[string]string{}
	for _, node := range []string{"a", "b"} {
		cfgs[node] = newReportsConfig(t)
		f, err := os.OpenFile(cfgs[node], os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "\n[cluster]\npostgres = %q\nnode = %q\n", conn, node)
		f.Close()
	}
	r := runCLI(t, "", "reports", "import", "--config", cfgs["a"], reportCorpus)
	if !strings.HasSuffix(r.stdout, "8 imported, 1 already stored, 3 skipped\n") {
		t.Fatalf("import on a: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, "", "reports", "import", "--config", cfgs["b"], reportCorpus)
	if !strings.HasSuffix(r.stdout, "0 imported, 9 already stored, 3 skipped\n") {
		t.Fatalf("import on b: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	if files, _ := filepath.Glob(filepath.Join(filepath.Dir(cfgs["b"]), "data", "reports", "*", "*.json")); len(files) != 0 {
		t.Errorf("reports stored in b's data_dir: %v", files)
	}
	summary := map[string]string{}
	for node, cfg := range cfgs {
		r := runCLI(t, "", "reports", "--json", "--config", cfg)
		if r.code != exitOK {
			t.Fatalf("reports on %s: exit %d: %s", node, r.code, r.stderr)
		}
		summary[node] = r.stdout
	}
	if summary["a"] != summary["b"] || !strings.Contains(summary["a"], `"reports": 5`) || !strings.Contains(summary["a"], `"reports": 3`) {
		t.Fatalf("summaries differ or are empty:\na: %s\nb: %s", summary["a"], summary["b"])
	}
}
