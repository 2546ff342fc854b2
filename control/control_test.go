package control

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control.sock")
	s := NewServer(path, slog.New(slog.DiscardHandler))
	s.Handle("echo", func(_ context.Context, args json.RawMessage) (any, error) {
		var v map[string]string
		if err := json.Unmarshal(args, &v); err != nil {
			return nil, err
		}
		return v, nil
	})
	s.Handle("fail", func(context.Context, json.RawMessage) (any, error) { return nil, errors.New("no such message") })
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	defer s.Close()

	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode: %v %v", st.Mode(), err)
	}
	ctx := context.Background()
	var out map[string]string
	if err := Call(ctx, path, "echo", map[string]string{"a": "b"}, &out); err != nil || out["a"] != "b" {
		t.Fatalf("echo: %v %v", out, err)
	}
	if err := Call(ctx, path, "fail", nil, nil); err == nil || err.Error() != "no such message" {
		t.Errorf("fail: %v", err)
	}
	if err := Call(ctx, path, "nope", nil, nil); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("unknown: %v", err)
	}
	if err := Call(ctx, filepath.Join(t.TempDir(), "none.sock"), "echo", nil, nil); !errors.Is(err, ErrNotRunning) {
		t.Errorf("no server: %v", err)
	}
}

// The socket is renamed into place from a private folder; nothing of that
// folder stays behind, and Close removes the socket by its final name.
func TestListenLeavesNothingBehind(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "control.sock")
	if err := os.WriteFile(path, []byte("stale"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := NewServer(path, slog.New(slog.DiscardHandler))
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	if err := Call(context.Background(), path, "nope", nil, nil); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("a stale file in the socket's place was not replaced: %v", err)
	}
	s.Close()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("left behind after Close: %v", entries)
	}
}
