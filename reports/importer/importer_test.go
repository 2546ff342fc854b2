package importer

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dkimrelay/internal/goldenfile"
	"dkimrelay/reports/store"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const corpus = "../testdata/corpus"

// importAll imports every corpus entry as the CLI does and returns one line
// per outcome.
func importAll(t *testing.T, st store.Store) string {
	t.Helper()
	ents, err := os.ReadDir(corpus)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	im := New(st)
	for _, e := range ents {
		err := im.Path(context.Background(), filepath.Join(corpus, e.Name()), nil, func(o Outcome) {
			fmt.Fprintln(&out, describe(o))
		})
		if err != nil {
			t.Fatalf("importing %s: %v", e.Name(), err)
		}
	}
	return out.String()
}

func describe(o Outcome) string {
	o.Input = strings.TrimPrefix(o.Input, corpus+"/")
	return o.Line()
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name), []byte(got), *update)
}

// TestCorpus imports the corpus twice: the first time stores every sound
// report and skips the damaged input and the bomb; the second stores
// nothing new.
func TestCorpus(t *testing.T) {
	dir := t.TempDir()
	st, err := store.OpenFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "import-first.golden", importAll(t, st))
	golden(t, "import-again.golden", importAll(t, st))

	reports, err := st.List(context.Background(), time2026())
	if err != nil {
		t.Fatal(err)
	}
	var kinds = map[store.Kind]int{}
	for _, r := range reports {
		kinds[r.Kind]++
	}
	if kinds[store.DMARC] != 5 || kinds[store.TLSRPT] != 3 {
		t.Errorf("stored %v, want 5 DMARC and 3 TLS reports", kinds)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	if len(files) != 8 {
		t.Errorf("store holds %d files, want 8: %v", len(files), files)
	}
}

func TestStdin(t *testing.T) {
	st, err := store.OpenFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(corpus, "02-yahoo.xml.gz"))
	if err != nil {
		t.Fatal(err)
	}
	var got []Outcome
	if err := New(st).Path(context.Background(), "-", bytes.NewReader(b), func(o Outcome) { got = append(got, o) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !got[0].Added || got[0].Report.Reporter != "Yahoo" || got[0].Input != "-" {
		t.Fatalf("stdin import: %+v", got)
	}
}

// TestFolderLinks: a link to a file in a folder is imported; a link to a
// folder (here, a loop) is not followed.
func TestFolderLinks(t *testing.T) {
	dir := t.TempDir()
	abs, err := filepath.Abs(filepath.Join(corpus, "04-small-reporter.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(abs, filepath.Join(dir, "report.xml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dir, filepath.Join(dir, "loop")); err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := New(st).Path(context.Background(), dir, nil, func(o Outcome) { got = append(got, o.Line()) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], "imported dmarc report \"Müller Hosting\"") {
		t.Errorf("outcomes %q", got)
	}
}
