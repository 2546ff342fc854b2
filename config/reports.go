package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// Reports configures the DMARC and TLS reports the relay reads
// (docs/reports.md).
type Reports struct {
	// IMAP, when its server is set, is the mailbox `serve` polls for
	// reports.
	IMAP ReportsIMAP `toml:"imap"`
}

// ReportsIMAP is the mailbox the rua= and _smtp._tls addresses deliver
// to. The connection is always TLS (implicit, or STARTTLS when StartTLS).
type ReportsIMAP struct {
	// Server is "host:port", normally port 993.
	Server string `toml:"server"`
	// StartTLS connects in plain text and upgrades with STARTTLS (port
	// 143) instead of implicit TLS; the session never continues without
	// TLS.
	StartTLS     bool   `toml:"starttls"`
	User         string `toml:"user"`
	PasswordFile string `toml:"password_file"`
	// Folder is the mailbox read, "INBOX" by default.
	Folder string `toml:"folder"`
	// ProcessedFolder, when set, is where imported messages are moved;
	// otherwise they are only marked \Seen.
	ProcessedFolder string        `toml:"processed_folder"`
	PollInterval    time.Duration `toml:"poll_interval"`
	// TLSCAFile is a PEM file of roots trusted besides the system's, for
	// a server with a private CA.
	TLSCAFile string `toml:"tls_ca_file"`
}

// Enabled reports whether IMAP fetching is configured.
func (m ReportsIMAP) Enabled() bool { return m.Server != "" }

func defaultReports() Reports {
	return Reports{IMAP: ReportsIMAP{Folder: "INBOX", PollInterval: 15 * time.Minute}}
}

func (r *Reports) validate() error {
	m := &r.IMAP
	if !m.Enabled() {
		if m.User != "" || m.PasswordFile != "" || m.ProcessedFolder != "" || m.TLSCAFile != "" {
			return errors.New("reports.imap.server is not set: set it to the IMAP server's host:993, or remove the [reports.imap] table")
		}
		return nil
	}
	if err := checkHostPort(m.Server); err != nil {
		return fmt.Errorf("reports.imap.server: %w (write \"imap.example.org:993\")", err)
	}
	if m.User == "" || m.PasswordFile == "" {
		return errors.New("reports.imap.user and reports.imap.password_file must be set: the password is read from a file of mode 0600, never from the config")
	}
	if m.Folder == "" {
		return errors.New("reports.imap.folder must not be empty (\"INBOX\" is the usual one)")
	}
	if m.ProcessedFolder == m.Folder {
		return errors.New("reports.imap.processed_folder must differ from reports.imap.folder")
	}
	if m.PollInterval < time.Second {
		return errors.New("reports.imap.poll_interval must be at least 1s (15m is plenty for daily reports)")
	}
	return nil
}

func (r *Reports) resolvePaths(abs func(*string)) {
	abs(&r.IMAP.PasswordFile)
	abs(&r.IMAP.TLSCAFile)
}

// ReportsDir is the folder of the received reports' store.
func (c *Config) ReportsDir() string { return filepath.Join(c.DataDir, "reports") }
