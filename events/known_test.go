package events

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestNamesListed: every string constant of this package that is not a
// field's key (…Key) is an event's name, and Names lists it.
func TestNamesListed(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	names := Names()
	found := 0
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING || strings.HasSuffix(id.Name, "Key") {
						continue
					}
					v, _ := strconv.Unquote(lit.Value)
					found++
					if !slices.Contains(names, v) {
						t.Errorf("event %s (%q) is missing from the list in known.go", id.Name, v)
					}
				}
			}
		}
	}
	if found != len(names) {
		t.Errorf("%d event constants, %d names listed", found, len(names))
	}
	if !Known("Delivered") || !Known("queue_damaged") || Known("delivred") {
		t.Error("Known is wrong")
	}
}
