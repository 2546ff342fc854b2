package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dkimrelay/reports/imapfetch/dovecottest"
)

const reportCorpus = "../reports/testdata/corpus"

// reportCounts is the part of `reports --json` these tests read.
type reportCounts struct {
	DMARC struct {
		Reports   int      `json:"reports"`
		Reporters []string `json:"reporters"`
	} `json:"dmarc"`
	TLS struct {
		Reports int `json:"reports"`
	} `json:"tls"`
}

func (r *relay) reportCounts(t *testing.T) reportCounts {
	t.Helper()
	var c reportCounts
	if err := json.Unmarshal([]byte(r.mustCLI("", "reports", "--json")), &c); err != nil {
		t.Fatalf("reports --json: %v", err)
	}
	return c
}

// TestReportsWhileServing: the relay reads the reports' mailbox on Dovecot
// as it starts; `reports` and `reports import` work beside the running
// relay, on the same store, each report once.
func TestReportsWhileServing(t *testing.T) {
	t.Parallel()
	imap := dovecottest.Start(t, map[string]string{"dmarc": "mailbox password"})
	var mails [][]byte
	for _, name := range []string{"03-microsoft.eml", "11-maildir/new/1764576000.M1P1.mx.example.org"} {
		b, err := os.ReadFile(filepath.Join(reportCorpus, name))
		if err != nil {
			t.Fatal(err)
		}
		mails = append(mails, b)
	}
	imap.Deliver(t, "dmarc", "mailbox password", mails...)

	secret := writeSecretFile(t, t.TempDir(), "imap-password", "mailbox password")
	_, _, r := testbed(t, relayOptions{configure: func(c *relayConfig) {
		c.Tables = fmt.Sprintf("[reports.imap]\nserver = %q\nuser = \"dmarc\"\npassword_file = %q\ntls_ca_file = %q\nprocessed_folder = \"Imported\"\n",
			imap.TLSAddr, secret, imap.CAFile)
	}})
	r.secrets = append(r.secrets, "mailbox password")
	for range 2 {
		r.waitEvent(t, 20*time.Second, "report_imported", nil)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := r.reportCounts(t)
		if got.DMARC.Reports == 1 && got.TLS.Reports == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reports --json beside the running relay: %+v, want 1 DMARC and 1 TLS report", got)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The same report by hand, and a new one: stored once, and the new.
	corpus, err := filepath.Abs(reportCorpus)
	if err != nil {
		t.Fatal(err)
	}
	out := r.mustCLI("", "reports", "import", filepath.Join(corpus, "03-microsoft.eml"), filepath.Join(corpus, "02-yahoo.xml.gz"))
	if !strings.Contains(out, `already stored dmarc report "Enterprise Outlook"`) || !strings.Contains(out, `imported dmarc report "Yahoo"`) {
		t.Errorf("reports import beside the running relay:\n%s", out)
	}
	if got := r.reportCounts(t); got.DMARC.Reports != 2 || strings.Join(got.DMARC.Reporters, ",") != "Enterprise Outlook,Yahoo" {
		t.Errorf("after the import: %+v", got)
	}
}
