package logview

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFind: a queue ID finds that message's whole story, as `logs --id`
// prints it (the golden file of TestGolden); a recipient finds every
// message that names it, the latest ones when there are more than asked.
func TestFind(t *testing.T) {
	log := filepath.Join("testdata", "recorded", "dkimrelay.log")
	golden := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", "golden", name+".golden"))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		return s[:strings.LastIndex(s, "-- ")]
	}
	tests := []struct {
		name, query string
		limit       int
		want        []string // golden files, one story each
		more        bool
	}{
		{"qid", "0695ZQ2M8K1T3HXW4B7C", 5, []string{"id"}, false},
		{"qid with spaces", "  0695ZZ7K4R2B1C8D5F6G ", 5, []string{"id-deleted"}, false},
		{"recipient, any case, brackets", "<Alice@example.NET>", 5, []string{"id", "id-deleted"}, false},
		{"recipient, limit", "alice@example.net", 1, []string{"id-deleted"}, true},
		{"unknown qid", "0000000000000000000Z", 5, nil, false},
		{"unknown recipient", "nobody@example.net", 5, nil, false},
		{"empty", "  ", 5, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Find(context.Background(), log, tt.query, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Stories) != len(tt.want) {
				t.Fatalf("%d stories, want %d", len(s.Stories), len(tt.want))
			}
			for i, st := range s.Stories {
				var b strings.Builder
				for _, e := range st.Events {
					b.WriteString(Format(e, time.UTC) + "\n")
					if e.QID != st.QID {
						t.Errorf("story %s holds an event of %s", st.QID, e.QID)
					}
				}
				if want := golden(tt.want[i]); b.String() != want {
					t.Errorf("story %d:\n%s\nwant (logs --id):\n%s", i, b.String(), want)
				}
			}
			if s.More != tt.more {
				t.Errorf("More = %v, want %v", s.More, tt.more)
			}
			if len(tt.want) > 0 && s.Skipped == 0 {
				t.Error("the damaged lines of the recorded log were not counted")
			}
		})
	}
	if _, err := Find(context.Background(), filepath.Join(t.TempDir(), "none.log"), "x@example.org", 5); err == nil {
		t.Error("a missing log file is no error")
	}
}
