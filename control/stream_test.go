package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

func TestCallStream(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control.sock")
	s := NewServer(path, slog.New(slog.DiscardHandler))
	// A large result, written in small pieces.
	s.Handle("big", func(context.Context, json.RawMessage) (any, error) {
		return Stream(func(w io.Writer) error {
			io.WriteString(w, "[")
			for i := range 20000 {
				if i > 0 {
					io.WriteString(w, ",")
				}
				fmt.Fprintf(w, `{"n":%d}`, i)
			}
			_, err := io.WriteString(w, "]")
			return err
		}), nil
	})
	s.Handle("broken", func(context.Context, json.RawMessage) (any, error) {
		return Stream(func(w io.Writer) error {
			io.WriteString(w, `[{"n":1},`)
			return errors.New("disk on fire")
		}), nil
	})
	s.Handle("plain", func(context.Context, json.RawMessage) (any, error) { return map[string]int{"a": 1}, nil })
	s.Handle("fail", func(context.Context, json.RawMessage) (any, error) { return nil, errors.New("no such message") })
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	defer s.Close()
	ctx := context.Background()

	var buf bytes.Buffer
	if err := CallStream(ctx, path, "big", nil, &buf); err != nil {
		t.Fatal(err)
	}
	var list []struct{ N int }
	if err := json.Unmarshal(buf.Bytes(), &list); err != nil || len(list) != 20000 || list[19999].N != 19999 {
		t.Fatalf("streamed result: %d items, %v", len(list), err)
	}
	// Call decodes a streamed result like any other.
	var again []struct{ N int }
	if err := Call(ctx, path, "big", nil, &again); err != nil || len(again) != 20000 {
		t.Fatalf("Call of a streamed result: %d items, %v", len(again), err)
	}

	buf.Reset()
	if err := CallStream(ctx, path, "broken", nil, &buf); err == nil || !strings.Contains(err.Error(), "cut short") {
		t.Errorf("a stream that failed halfway: %v", err)
	}
	buf.Reset()
	if err := CallStream(ctx, path, "plain", nil, &buf); err != nil || buf.String() != `{"a":1}` {
		t.Errorf("CallStream of a plain result: %q, %v", buf.String(), err)
	}
	if err := CallStream(ctx, path, "fail", nil, io.Discard); err == nil || err.Error() != "no such message" {
		t.Errorf("CallStream of an error: %v", err)
	}
}

func TestTailWriter(t *testing.T) {
	for _, pieces := range [][]string{{"abc}\n"}, {"a", "b", "c", "}", "\n"}, {"ab", "c}\n"}, {"}", "\n"}, {""}} {
		var out bytes.Buffer
		tw := &tailWriter{w: &out, n: 2}
		for _, p := range pieces {
			tw.Write([]byte(p))
		}
		all := strings.Join(pieces, "")
		want := all[:max(0, len(all)-2)]
		if out.String() != want || string(tw.tail) != all[len(all)-min(2, len(all)):] {
			t.Errorf("pieces %q: passed %q, held %q", pieces, out.String(), tw.tail)
		}
	}
}
