package logview

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCountBulk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.log")
	now := time.Now().UTC()
	old := now.Add(-8 * 24 * time.Hour).Format(time.RFC3339Nano)
	recent := now.Add(-time.Hour).Format(time.RFC3339Nano)
	lines := `{"time":"` + old + `","level":"INFO","msg":"accepted","qid":"Q0","class":"bulk","unsubscribe":"missing"}
{"time":"` + recent + `","level":"INFO","msg":"accepted","qid":"Q1","class":"bulk","unsubscribe":"signed"}
{"time":"` + recent + `","level":"INFO","msg":"accepted","qid":"Q2","class":"bulk","unsubscribe":"missing"}
{"time":"` + recent + `","level":"INFO","msg":"accepted","qid":"Q3","class":"transactional"}
{"time":"` + recent + `","level":"INFO","msg":"delivered","qid":"Q1","rcpt":"a@example.net"}
`
	if err := os.WriteFile(path, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := CountBulk(context.Background(), path, now.Add(-7*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if c.Messages != 2 || c.Missing != 1 {
		t.Errorf("CountBulk = %+v, want 2 messages of which 1 missing (the older one is out of the period)", c)
	}
}
