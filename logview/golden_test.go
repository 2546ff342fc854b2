package logview

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"dkimrelay/internal/goldenfile"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestGolden reads the recorded log (rotated, gzipped and damaged files)
// with each filter and compares the output with testdata/golden.
func TestGolden(t *testing.T) {
	log := filepath.Join("testdata", "recorded", "dkimrelay.log")
	tests := []struct {
		name   string
		filter Filter
		json   bool
	}{
		{name: "all"},
		{name: "id", filter: Filter{QID: "0695ZQ2M8K1T3HXW4B7C"}},
		{name: "id-deleted", filter: Filter{QID: "0695ZZ7K4R2B1C8D5F6G"}},
		{name: "rcpt", filter: Filter{Rcpt: "alice@example.net"}},
		{name: "status", filter: Filter{Status: []string{"bounced", "Deferred"}}},
		{name: "since", filter: Filter{Since: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)}},
		{name: "rcpt-status", filter: Filter{Rcpt: "bob@example.com", Status: []string{"delivered"}}},
		{name: "json-id", filter: Filter{QID: "0695ZR1D2W5A8M0N6P3E"}, json: true},
		{name: "none", filter: Filter{QID: "0000000000000000000Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			r := &Reader{
				Path:   log,
				Filter: tt.filter,
				Emit: func(e *Event) error {
					if tt.json {
						out.Write(e.Raw)
						out.WriteByte('\n')
					} else {
						out.WriteString(Format(e, time.UTC))
						out.WriteByte('\n')
					}
					return nil
				},
				Warn: func(s string) { fmt.Fprintf(&out, "warning: %s\n", s) },
			}
			if err := r.Read(context.Background()); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&out, "-- %d matched, %d skipped\n", r.Matched, r.Skipped)
			goldenfile.Check(t, filepath.Join("testdata", "golden", tt.name+".golden"), out.Bytes(), *update)
		})
	}
}
