package delivery

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dkimrelay/config"
	"dkimrelay/relay/outcome"
)

func TestOutbox(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	d, err := New(Config{Delivery: outboxSection(dir), Hostname: "relay.test", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	const body = "From: app@relay.test\r\nSubject: hi\r\n\r\nHello.\r\n"
	rcpts := []string{"a@example.net", "b@example.com"}
	got := d.Deliver(t.Context(), message(body, rcpts...))
	ok := want{status: outcome.Delivered, code: 250, mx: string(config.ModeOutbox), enhanced: "2.0.0", reply: "written to " + filepath.Join(dir, "QID1.eml")}
	check(t, got, rcpts, ok, ok)
	data, err := os.ReadFile(filepath.Join(dir, "QID1.eml"))
	if err != nil {
		t.Fatal(err)
	}
	wantData := "Return-Path: <app@relay.test>\r\nDelivered-To: a@example.net\r\nDelivered-To: b@example.com\r\n" + body
	if string(data) != wantData {
		t.Errorf("outbox file:\n%q\nwant\n%q", data, wantData)
	}
	// A repeated attempt replaces the file; nothing else is left behind.
	d.Deliver(t.Context(), message(body, rcpts...))
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("outbox holds %d entries, want 1", len(entries))
	}

	// An outbox that cannot be written to defers, it never loses mail.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	got = d.Deliver(t.Context(), message(body, rcpts...))
	deferred := want{status: outcome.Transient, enhanced: "4.3.0", reply: "writing to the outbox"}
	check(t, got, rcpts, deferred, deferred)

	if _, err := New(Config{Delivery: outboxSection(""), Hostname: "relay.test"}); err == nil || !strings.Contains(err.Error(), "Outbox") {
		t.Errorf("New without an outbox folder: %v", err)
	}
}

// outboxSection is the [delivery] section of outbox mode into dir.
func outboxSection(dir string) config.Delivery {
	d := section()
	d.Mode, d.Outbox = config.ModeOutbox, dir
	return d
}
