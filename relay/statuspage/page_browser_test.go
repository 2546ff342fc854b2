package statuspage_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"dkimrelay/config"
	"dkimrelay/control"
	"dkimrelay/events"
	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
	"dkimrelay/keys"
	"dkimrelay/logview"
	"dkimrelay/relay"
	"dkimrelay/reports"
	"dkimrelay/resolver/dnstest"
	"dkimrelay/users"
)

const (
	domain      = "example.org"
	metricsPass = "status page password"
)

// zone sends each destination to its own loopback host: 127.0.0.2 takes
// mail over TLS, .3 in the clear, .4 answers 451 (deferred), .5 answers
// 550 5.1.1 (bounced). The bounce to example.org goes to .2.
const zone = `
good.test.     MX 10 mx.good.test.
mx.good.test.  A  127.0.0.2
example.org.   MX 10 mx.good.test.
plain.test.    MX 10 mx.plain.test.
mx.plain.test. A  127.0.0.3
slow.test.     MX 10 mx.slow.test.
mx.slow.test.  A  127.0.0.4
gone.test.     MX 10 mx.gone.test.
mx.gone.test.  A  127.0.0.5
`

// pageRelay is the relay the browser looks at.
type pageRelay = testkit.Relay[*relay.Relay]

// startPageRelay starts a relay with the status page on, its log in a
// file (which the search reads) and in the harness's collector, a
// password for the page, a pending key not yet in DNS beside the active
// one, a bulk login, and a DMARC report received.
func startPageRelay(t *testing.T) *pageRelay {
	dns := dnstest.NewServer(t)
	dns.AddZone(zone)
	port, lns := testkit.ListenSame(t, "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")
	testkit.ServeSink(t, lns[0], smtpsink.Config{TLS: testkit.SinkTLS(t), Timeout: 30 * time.Second})
	testkit.ServeSink(t, lns[1], smtpsink.Config{Timeout: 30 * time.Second})
	testkit.ServeSink(t, lns[2], smtpsink.Config{Timeout: 30 * time.Second, Reply: smtpsink.At(smtpsink.Rcpt, func(string) error {
		return testkit.SMTPError(451, "4.7.1", "Greylisted, try again later")
	})})
	testkit.ServeSink(t, lns[3], smtpsink.Config{Timeout: 30 * time.Second, Reply: smtpsink.At(smtpsink.Rcpt, func(string) error {
		return testkit.SMTPError(550, "5.1.1", "No such user")
	})})

	var c testkit.TOML
	c.Line(`hostname = "relay.example.net"`)
	c.Line(`data_dir = "data"`)
	c.Table("submission", []string{`listen = ["127.0.0.1:0"]`, `tls_cert = "tls/cert.pem"`, `tls_key = "tls/key.pem"`}, "")
	c.Line("[[domains]]\nname = %q", domain)
	c.Table("delivery", []string{fmt.Sprintf("port = %d", port), `egress_ips = ["127.0.0.1"]`, `spf_policy = "off"`,
		`allow_internal = true`, `workers = 2`, `retry_min = "1h"`, `retry_max = "2h"`, `connect_timeout = "2s"`, `command_timeout = "5s"`}, "")
	c.Table("dns", []string{fmt.Sprintf("servers = [%q]", dns.Addr()), `timeout = "1s"`}, "")
	c.Table("log", []string{`file = "log/dkimrelay.log"`}, "")
	c.Table("metrics", []string{`listen = "127.0.0.1:0"`, `password_file = "metrics.pass"`}, "")

	var h *pageRelay
	h = testkit.PrepareRelay(t, testkit.RelaySetup[*relay.Relay]{
		New:     func(cfg *config.Config, log *slog.Logger) (*relay.Relay, error) { return relay.New(cfg, log) },
		Config:  c.String(),
		Domains: []string{domain},
		DNS:     dns,
		Logger: func(cfg *config.Config) (*slog.Logger, func(), error) {
			if err := os.MkdirAll(filepath.Dir(cfg.Log.File), 0o700); err != nil {
				return nil, nil, err
			}
			file, lf, err := events.OpenLog(cfg.Log.File, slog.LevelInfo)
			if err != nil {
				return nil, nil, err
			}
			both := slog.New(slog.NewMultiHandler(file.Handler(), h.Logs.Logger().Handler()))
			return both, func() { lf.Close() }, nil
		},
	})
	if err := os.WriteFile(filepath.Join(h.Dir, "metrics.pass"), []byte(metricsPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := keys.Open(h.Config.KeysDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Generate(domain, keys.Ed25519, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := users.Update(h.Config.UsersFile(), func(db *users.DB) error {
		if err := db.Add("news", testkit.Password, []string{"@" + domain}); err != nil {
			return err
		}
		return db.SetClass("news", users.Bulk)
	}); err != nil {
		t.Fatal(err)
	}
	importReport(t, h.Config)
	h.Start()
	return h
}

// importReport stores one DMARC aggregate report of yesterday: the relay's
// address passing for 40 messages, a stranger failing for 3.
func importReport(t *testing.T, cfg *config.Config) {
	end := time.Now().Add(-24 * time.Hour)
	xml := fmt.Sprintf(`<?xml version="1.0"?><feedback><report_metadata><org_name>receiver.example</org_name><email>dmarc@receiver.example</email>
<report_id>r-1</report_id><date_range><begin>%d</begin><end>%d</end></date_range></report_metadata>
<policy_published><domain>%s</domain><p>none</p></policy_published>
<record><row><source_ip>127.0.0.1</source_ip><count>40</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row><identifiers><header_from>%s</header_from></identifiers></record>
<record><row><source_ip>203.0.113.9</source_ip><count>3</count><policy_evaluated><disposition>none</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row><identifiers><header_from>%s</header_from></identifiers></record>
</feedback>`, end.Add(-24*time.Hour).Unix(), end.Unix(), domain, domain, domain)
	path := filepath.Join(t.TempDir(), "report.xml")
	if err := os.WriteFile(path, []byte(xml), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := reports.OpenStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out, errs strings.Builder
	if n, err := reports.Import(context.Background(), st, []string{path}, nil, &out, &errs); err != nil || n.Added != 1 {
		t.Fatalf("importing the report: %v %+v %s", err, n, errs.String())
	}
}

// send submits one message as login and returns its queue ID.
func send(t *testing.T, h *pageRelay, login string, to ...string) string {
	t.Helper()
	c := testkit.DialSubmission(t, h.Addr(), login, testkit.Password)
	defer c.Close()
	// Each message differs, or the relay would take it for a retry
	// (submission.duplicate_window).
	msg := fmt.Sprintf("From: <%s@%s>\r\nTo: <%s>\r\nSubject: status page %s\r\n\r\nHello %s, %d.\r\n",
		login, domain, to[0], to[0], strings.Join(to, ", "), time.Now().UnixNano())
	qid, se := testkit.Transact(t, c, login+"@"+domain, to, msg)
	if se != nil {
		t.Fatalf("refused: %v", se)
	}
	return qid
}

// get fetches a path of the metrics server with the given password ("":
// none) and returns the status.
func get(t *testing.T, addr, path, password string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
	if password != "" {
		req.SetBasicAuth("admin", password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// queueTruth is the queue as the control socket lists it.
func queueTruth(t *testing.T, h *pageRelay) []control.QueueMessage {
	t.Helper()
	var list []control.QueueMessage
	if err := control.Call(context.Background(), h.Config.ControlSocket(), "queue.list", nil, &list); err != nil {
		t.Fatal(err)
	}
	return list
}

// story is a message's events as `dkimrelay logs --id QID --utc` prints
// them, read from the relay's log file.
func story(t *testing.T, h *pageRelay, qid string) []string {
	t.Helper()
	var lines []string
	r := &logview.Reader{Path: h.Config.Log.File, Filter: logview.Filter{QID: qid}, Emit: func(e *logview.Event) error {
		lines = append(lines, logview.Format(e, time.UTC))
		return nil
	}}
	if err := r.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	return lines
}

// authHeader is the Authorization the browser sends.
func authHeader() map[string]any {
	return map[string]any{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+metricsPass))}
}

// evaluate runs a JavaScript expression in the page and decodes its value.
func evaluate[T any](b *browser, expr string) T {
	b.t.Helper()
	return value(b, chromedp.Evaluate[T](expr))
}

// TestPasswordFileMustBePrivate: a metrics.password_file others may read
// stops the relay at start, naming the key and the fix.
func TestPasswordFileMustBePrivate(t *testing.T) {
	var c testkit.TOML
	c.Line(`hostname = "relay.example.net"`)
	c.Line(`data_dir = "data"`)
	c.Table("submission", []string{`listen = ["127.0.0.1:0"]`, `tls_cert = "tls/cert.pem"`, `tls_key = "tls/key.pem"`}, "")
	c.Line("[[domains]]\nname = %q", domain)
	c.Table("metrics", []string{`listen = "127.0.0.1:0"`, `password_file = "metrics.pass"`}, "")
	h := testkit.PrepareRelay(t, testkit.RelaySetup[*relay.Relay]{
		New:     func(cfg *config.Config, log *slog.Logger) (*relay.Relay, error) { return relay.New(cfg, log) },
		Config:  c.String(),
		Domains: []string{domain},
	})
	if err := os.WriteFile(filepath.Join(h.Dir, "metrics.pass"), []byte(metricsPass+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := relay.New(h.Config, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = r.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "metrics.password_file") || !strings.Contains(err.Error(), "chmod") {
		t.Fatalf("a 0644 password file: %v", err)
	}
}
