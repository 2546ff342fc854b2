package unpack

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzBytes feeds anything to the unpacker with small limits: it must
// neither panic nor exceed them, and every report it returns must carry
// what the store keys it by.
func FuzzBytes(f *testing.F) {
	files, _ := filepath.Glob("../testdata/corpus/*")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Add([]byte(report))
	lim := Limits{Input: 1 << 20, Expanded: 1 << 20, Members: 4, Depth: 4}
	f.Fuzz(func(t *testing.T, b []byte) {
		docs, problems := Bytes(b, lim)
		if len(docs)+len(problems) == 0 {
			t.Fatal("neither a report nor a problem")
		}
		for _, d := range docs {
			switch {
			case (d.DMARC == nil) == (d.TLS == nil):
				t.Fatalf("document with %v and %v", d.DMARC, d.TLS)
			case d.DMARC != nil && (d.DMARC.Metadata.OrgName == "" || d.DMARC.Metadata.ReportID == ""):
				t.Fatalf("DMARC report without reporter or ID: %+v", d.DMARC.Metadata)
			case d.TLS != nil && (d.TLS.OrganizationName == "" || d.TLS.ReportID == ""):
				t.Fatalf("TLS report without reporter or ID: %+v", d.TLS)
			}
		}
	})
}
