package relay

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dkimrelay/internal/testkit"
	"dkimrelay/reports/imapfetch/dovecottest"
	"dkimrelay/resolver/dnstest"
)

// reportsRelayConfig is a relay that reads the reports' mailbox of srv
// and serves its metrics.
func reportsRelayConfig(dns *dnstest.Server, srv *dovecottest.Server, passwordFile string) string {
	return hardConfig(dns, hardOptions{}) + fmt.Sprintf(`
[metrics]
listen = "127.0.0.1:0"

[reports.imap]
server = %q
user = "reports"
password_file = %q
tls_ca_file = %q
processed_folder = "Imported"
poll_interval = "1h"
`, srv.TLSAddr, passwordFile, srv.CAFile)
}

// tlsReportMail is a TLS report of yesterday for example.org, mailed.
func tlsReportMail(id string) []byte {
	day := time.Now().UTC().Add(-24 * time.Hour).Format("2006-01-02")
	report := fmt.Sprintf(`{"organization-name":"Sender Inc.","date-range":{"start-datetime":"%sT00:00:00Z","end-datetime":"%sT23:59:59Z"},"report-id":%q,"policies":[{"policy":{"policy-type":"sts","policy-domain":"example.org"},"summary":{"total-successful-session-count":10,"total-failure-session-count":2},"failure-details":[{"result-type":"certificate-expired","receiving-mx-hostname":"mx.example.org","failed-session-count":2}]}]}`, day, day, id)
	return []byte("From: tlsrpt@sender.example\r\nTo: reports@example.org\r\nSubject: Report Domain: example.org\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=tlsrpt; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nThis is a TLS report.\r\n" +
		"--b\r\nContent-Type: application/tlsrpt+json\r\nContent-Disposition: attachment; filename=report.json\r\n\r\n" + report + "\r\n--b--\r\n")
}

// TestReportsFetchedWhileServing: `serve` with [reports.imap] imports the
// mailbox's reports at start and exports them in its metrics.
func TestReportsFetchedWhileServing(t *testing.T) {
	srv := dovecottest.Start(t, map[string]string{"reports": "mailbox secret"})
	srv.Deliver(t, "reports", "mailbox secret", tlsReportMail("r-1"))

	dns := dnstest.NewServer(t)
	secret := filepath.Join(t.TempDir(), "imap-password")
	os.WriteFile(secret, []byte("mailbox secret\n"), 0o600)
	h := testkit.StartRelay(t, testkit.RelaySetup[*Relay]{
		New: newRelay, Config: reportsRelayConfig(dns, srv, secret), Domains: []string{hardDomain}, DNS: dns,
	})
	ev := h.WaitEvent("report_imported", 20*time.Second, func(map[string]any) bool { return true })
	if ev["reporter"] != "Sender Inc." || ev["report_id"] != "r-1" || ev["added"] != true {
		t.Errorf("report_imported event: %v", ev)
	}
	if strings.Contains(h.Logs.Tail(1<<20), "mailbox secret") {
		t.Error("the IMAP password is in the log")
	}
	stored, _ := filepath.Glob(filepath.Join(h.Config.ReportsDir(), "tlsrpt", "*.json"))
	if len(stored) != 1 {
		t.Errorf("report store holds %v", stored)
	}

	resp, err := http.Get("http://" + h.Daemon.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`dkimrelay_reports_stored{kind="tlsrpt"} 1`,
		`dkimrelay_reports_tls_failed_sessions{result_type="certificate-expired"} 2`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if sum := h.Daemon.ReportSummary(t.Context()); sum.TLS.Reports != 1 || len(sum.TLS.Failures) != 1 {
		t.Errorf("ReportSummary: %+v", sum.TLS)
	}
}

// TestReportsPasswordFileChecked: a password file others can read stops
// the start, naming the fix.
func TestReportsPasswordFileChecked(t *testing.T) {
	srv := dovecottest.Start(t, map[string]string{"reports": "mailbox secret"})
	dns := dnstest.NewServer(t)
	secret := filepath.Join(t.TempDir(), "imap-password")
	os.WriteFile(secret, []byte("mailbox secret\n"), 0o644)
	os.Chmod(secret, 0o644)
	h := testkit.PrepareRelay(t, testkit.RelaySetup[*Relay]{
		New: newRelay, Config: reportsRelayConfig(dns, srv, secret), Domains: []string{hardDomain}, DNS: dns,
	})
	_, err := New(h.Config, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "reports.imap.password_file") || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("New with a 0644 password file: %v", err)
	}
}
