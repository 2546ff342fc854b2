package delivery

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"dkimrelay/config"
	"dkimrelay/events"
	"dkimrelay/internal/atomicfile"
	"dkimrelay/relay/outcome"
)

// Outbox mode (config.ModeOutbox) writes each message to a file in the
// delivery.outbox folder instead of sending it anywhere: the try-out
// relay's delivery, so a newcomer sees the signed message without DNS or
// port 25.

// checkOutbox makes the outbox folder.
func checkOutbox(cfg Config) error {
	if cfg.Outbox == "" {
		return errors.New("delivery: outbox mode needs the Outbox folder")
	}
	if err := os.MkdirAll(cfg.Outbox, 0o750); err != nil {
		return fmt.Errorf("delivery: making the outbox folder: %w", err)
	}
	return nil
}

// toOutbox delivers m to OUTBOX/QID.eml: the signed message as queued,
// after a Return-Path field with the envelope sender and one Delivered-To
// field per recipient (the fields a receiving server adds, RFC 5321
// section 4.4). The file appears whole or not at all; a repeated attempt
// replaces it (delivery is at-least-once).
func (d *Deliverer) toOutbox(log *slog.Logger, m Message) []outcome.Outcome {
	name := strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r < ' ' || r > '~' {
			return '_'
		}
		return r
	}, strings.TrimLeft(m.ID, "."))
	path := filepath.Join(d.cfg.Outbox, name+".eml")
	if err := writeOutbox(path, m); err != nil {
		return outcome.Local(outcome.Transient, "4.3.0", "writing to the outbox: "+err.Error()).For(m.Rcpts)
	}
	cmd := "dkimrelay verify --offline "
	if d.cfg.OutboxConfig != "" {
		cmd = "dkimrelay --config " + relative(d.cfg.OutboxConfig) + " verify --offline "
	}
	log.Info(events.Outbox, events.FileKey, path, events.VerifyKey, cmd+relative(path))
	return outcome.Outcome{Status: outcome.Delivered, Code: 250, Reply: "written to " + path, MX: string(config.ModeOutbox), Enhanced: "2.0.0"}.For(m.Rcpts)
}

func writeOutbox(path string, m Message) error {
	rc, err := m.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	var head strings.Builder
	fmt.Fprintf(&head, "Return-Path: <%s>\r\n", m.From)
	for _, r := range m.Rcpts {
		fmt.Fprintf(&head, "Delivered-To: %s\r\n", r)
	}
	if _, err := io.WriteString(f, head.String()); err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	done = true
	return atomicfile.SyncDir(filepath.Dir(path))
}

// relative shortens path to one relative to the working folder when it
// lies below it, for a command to copy.
func relative(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}
