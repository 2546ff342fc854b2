package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseReportsIMAP(t *testing.T) {
	c, err := Parse("/etc/dkimrelay/dkimrelay.toml", []byte(`hostname = "mail.example.org"
[reports.imap]
server = "imap.example.org:993"
user = "dmarc-reports@example.org"
password_file = "imap-password"
processed_folder = "Reports/Imported"
`))
	if err != nil {
		t.Fatal(err)
	}
	m := c.Reports.IMAP
	if !m.Enabled() || m.Folder != "INBOX" || m.PollInterval != 15*time.Minute ||
		m.PasswordFile != "/etc/dkimrelay/imap-password" || m.ProcessedFolder != "Reports/Imported" {
		t.Errorf("reports.imap = %+v", m)
	}
	if c.ReportsDir() != "/etc/dkimrelay/data/reports" {
		t.Errorf("ReportsDir = %s", c.ReportsDir())
	}
	if c, _ := Parse("/x/dkimrelay.toml", []byte(`hostname = "mail.example.org"`)); c.Reports.IMAP.Enabled() {
		t.Error("IMAP enabled by default")
	}
}

func TestParseReportsIMAPErrors(t *testing.T) {
	tests := []struct{ text, want string }{
		{"[reports.imap]\nuser = \"u\"", "reports.imap.server is not set"},
		{"[reports.imap]\nserver = \"imap.example.org\"\nuser = \"u\"\npassword_file = \"p\"", "reports.imap.server"},
		{"[reports.imap]\nserver = \"imap.example.org:993\"\nuser = \"u\"", "password_file must be set"},
		{"[reports.imap]\nserver = \"imap.example.org:993\"\nuser = \"u\"\npassword_file = \"p\"\npoll_interval = \"0s\"", "poll_interval"},
		{"[reports.imap]\nserver = \"imap.example.org:993\"\nuser = \"u\"\npassword_file = \"p\"\nprocessed_folder = \"INBOX\"", "must differ"},
		{"[reports.imap]\nserver = \"imap.example.org:993\"\npassword = \"secret\"", "unknown key reports.imap.password"},
	}
	for _, tt := range tests {
		_, err := Parse("/x/dkimrelay.toml", []byte("hostname = \"mail.example.org\"\n"+tt.text))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want one containing %q", tt.text, err, tt.want)
		}
	}
}
