package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// recordedLog is logview's recorded log: rotated, gzipped and damaged
// files (see logview/testdata/README.md).
var recordedLog = filepath.Join("..", "..", "logview", "testdata", "recorded", "dkimrelay.log")

func TestLogsCommand(t *testing.T) {
	dir := t.TempDir()
	noFile := filepath.Join(dir, "nofile.toml")
	if err := os.WriteFile(noFile, []byte("hostname = \"mail.example.org\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	withFile := filepath.Join(dir, "withfile.toml")
	abs, _ := filepath.Abs(recordedLog)
	if err := os.WriteFile(withFile, []byte("hostname = \"mail.example.org\"\n[log]\nfile = \""+abs+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	idStory, err := os.ReadFile(filepath.Join("..", "..", "logview", "testdata", "golden", "id.golden"))
	if err != nil {
		t.Fatal(err)
	}
	story, _, _ := strings.Cut(string(idStory), "-- ")

	tests := []struct {
		name       string
		args       []string
		stdin      string
		code       int
		stdout     string // exact, when set
		contains   string
		stderrHas  string
		stdoutNone bool
	}{
		{name: "id story from log.file", args: []string{"--config", withFile, "logs", "--id", "0695ZQ2M8K1T3HXW4B7C", "--utc"},
			stdout: story, stderrHas: "4 damaged or foreign line(s) skipped."},
		{name: "--file overrides", args: []string{"--config", noFile, "logs", "--file", recordedLog, "--id", "0695ZQ2M8K1T3HXW4B7C", "--utc"},
			stdout: story},
		{name: "status list", args: []string{"--config", withFile, "logs", "--status", "bounced,expired", "--json"},
			contains: `"msg":"bounced","qid":"0695ZR1D2W5A8M0N6P3E"`},
		{name: "status misspelt", args: []string{"--config", withFile, "logs", "--status", "delivred"},
			code: 1, stderrHas: `warning: no event is named "delivred"; the events are accepted, auth,`, stdoutNone: true},
		{name: "nothing matches", args: []string{"--config", withFile, "logs", "--rcpt", "nobody@example.net"},
			code: 1, stderrHas: "no matching events", stdoutNone: true},
		{name: "since in the future", args: []string{"--config", withFile, "logs", "--since", time.Now().Add(time.Hour).Format(time.RFC3339)},
			code: 1, stdoutNone: true},
		{name: "bad since", args: []string{"--config", withFile, "logs", "--since", "last tuesday"},
			code: 2, stderrHas: "neither a duration"},
		{name: "no log.file", args: []string{"--config", noFile, "logs"},
			code: 1, stderrHas: "log.file is not set"},
		{name: "stdin", args: []string{"--config", noFile, "logs", "--file", "-", "--json", "--rcpt", "a@example.net"},
			stdin:  "{\"time\":\"2026-11-02T00:00:00Z\",\"msg\":\"delivered\",\"rcpt\":\"a@example.net\"}\nnoise\n",
			stdout: "{\"time\":\"2026-11-02T00:00:00Z\",\"msg\":\"delivered\",\"rcpt\":\"a@example.net\"}\n", stderrHas: "1 damaged"},
		{name: "follow stdin", args: []string{"--config", noFile, "logs", "--file", "-", "--follow"}, code: 2},
		{name: "missing file", args: []string{"--config", noFile, "logs", "--file", filepath.Join(dir, "none.log")},
			code: 1, stderrHas: "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb strings.Builder
			e := &env{stdin: strings.NewReader(tt.stdin), stdout: &out, stderr: &errb}
			code := run(e, tt.args)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tt.code, errb.String())
			}
			if tt.stdout != "" && out.String() != tt.stdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", out.String(), tt.stdout)
			}
			if tt.contains != "" && !strings.Contains(out.String(), tt.contains) {
				t.Errorf("stdout lacks %q:\n%s", tt.contains, out.String())
			}
			if tt.stdoutNone && out.Len() > 0 {
				t.Errorf("stdout should be empty:\n%s", out.String())
			}
			if tt.stderrHas != "" && !strings.Contains(errb.String(), tt.stderrHas) {
				t.Errorf("stderr lacks %q: %s", tt.stderrHas, errb.String())
			}
		})
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"90m", now.Add(-90 * time.Minute), true},
		{"24h", now.Add(-24 * time.Hour), true},
		{"2d", now.Add(-48 * time.Hour), true},
		{"2026-11-01T10:00:00Z", time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC), true},
		{"2026-11-01", time.Date(2026, 11, 1, 0, 0, 0, 0, time.Local), true},
		{"soon", time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := parseSince(tt.in, now)
		if (err == nil) != tt.ok || !got.Equal(tt.want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
