package relay

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"go.yaml.in/yaml/v3"

	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
	"dkimrelay/resolver/dnstest"
)

const (
	dashboardPath = "../contrib/grafana/dkimrelay.json"
	alertsPath    = "../contrib/prometheus/alerts.yml"
)

var metricName = regexp.MustCompile(`\bdkimrelay_[a-z0-9_]+\b`)

// dashboardExprs are the PromQL expressions of the Grafana dashboard's
// panels, by panel title.
func dashboardExprs(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string
		Title  string
		Panels []struct {
			Type    string
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("%s has no uid or title", dashboardPath)
	}
	out := map[string][]string{}
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, tg := range p.Targets {
			out[p.Title] = append(out[p.Title], tg.Expr)
		}
	}
	return out
}

// alertExprs are the expressions of the alerting rules, by alert name.
func alertExprs(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(alertsPath)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", alertsPath, err)
	}
	out := map[string]string{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			out[r.Alert] = r.Expr
		}
	}
	return out
}

// TestDashboardAndAlertsNameLiveMetrics runs a relay that accepts,
// delivers, defers and bounces real messages (a blocklist refusal, a
// provider's throttling reply, a TLS policy failure among them), holds a
// suppressed recipient, answers a duplicate, checks SPF and DMARC and
// refuses a login, then scrapes its /metrics: every metric the Grafana
// dashboard and the alerting rules name must be there. promtool checks
// the rules, and the dashboard's expressions as rules of their own.
func TestDashboardAndAlertsNameLiveMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is missing: install the Debian package prometheus")
	}
	panels := dashboardExprs(t)
	alerts := alertExprs(t)
	for _, want := range []string{"DKIMRelayQueueGrowing", "DKIMRelayOldestMessageOld", "DKIMRelayBounceRateHigh",
		"DKIMRelayProviderBlocking", "DKIMRelayKeyRotationOverdue", "DKIMRelayDNSCheckFailing"} {
		if alerts[want] == "" {
			t.Errorf("%s has no alert %s", alertsPath, want)
		}
	}

	port, ls := testkit.ListenSame(t, "127.0.0.2")
	sink := serveSink(t, ls[0])
	// The sink answers as receivers do: a blocklist refusal, a mailbox
	// that does not exist, and Gmail's throttling reply.
	sink.SetReply(smtpsink.At(smtpsink.Rcpt, func(rcpt string) error {
		switch {
		case strings.HasPrefix(rcpt, "blocked@"):
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
				Message: "Service unavailable; client host [127.0.0.1] blocked using a blocklist"}
		case strings.HasPrefix(rcpt, "gone@"):
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "The email account that you tried to reach does not exist"}
		case strings.HasSuffix(rcpt, "@gmail.test"):
			return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 28},
				Message: "Our system has detected an unusual rate of unsolicited mail originating from your IP address"}
		}
		return nil
	}))
	dns := dnstest.NewServer(t)
	dns.AddZone(hardZone)
	// Bounced: a null MX (RFC 7505). Deferred: an MX where nothing
	// listens. gmail.test's MX host is Google's (a big provider);
	// tls.test is in require_tls_domains and its MX offers no STARTTLS.
	dns.AddZone("null.test. MX 0 .\ndead.test. MX 10 mx.dead.test.\nmx.dead.test. A 127.0.0.5\n" +
		"gmail.test. MX 10 mx.google.com.\nmx.google.com. A 127.0.0.2\n" +
		"tls.test. MX 10 mx.tls.test.\nmx.tls.test. A 127.0.0.2\n")
	// SPF passes; no DMARC record, which the check reports.
	dns.Add(`example.org. 300 IN TXT "v=spf1 ip4:127.0.0.1 -all"`)
	h := newHardRelay(t, dns, hardOptions{port: port, spf: "warn",
		delivery: `retry_min = "1h"` + "\n" + `retry_max = "2h"` + "\n" + `require_tls_domains = ["tls.test"]`,
		keys:     `rotate_after = "720h"` + "\n[metrics]\nlisten = \"127.0.0.1:0\""})

	for _, rcpt := range []string{"a@good.test", "b@null.test", "c@dead.test", "blocked@good.test", "d@gmail.test", "e@tls.test", "gone@good.test"} {
		mustSend(t, h.Addr(), []string{rcpt}, hardMessage(strings.Split(rcpt, "@")[0], rcpt))
	}
	// The same message again: a duplicate, answered with the first QID.
	mustSend(t, h.Addr(), []string{"a@good.test"}, hardMessage("a", "a@good.test"))
	// Once gone@good.test bounced, it is suppressed.
	h.WaitEvent("bounced", 20*time.Second, func(ev map[string]any) bool { return ev["rcpt"] == "gone@good.test" })
	mustSend(t, h.Addr(), []string{"gone@good.test"}, hardMessage("gone-again", "gone@good.test"))
	raw := dialHardRaw(t, h.Addr(), false)
	raw.Cmd("MAIL FROM:<app@example.org>") // 530: no AUTH yet
	raw.Cmd("AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00app\x00wrong password")))

	scrape := func() string {
		resp, err := http.Get("http://" + h.Daemon.MetricsAddr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	// The series the mail above must have made, each a panel's or an
	// alert's subject.
	wantSeries := []string{
		`dkimrelay_recipients_total{outcome="delivered"}`,
		`dkimrelay_recipients_total{outcome="bounced"}`,
		`dkimrelay_recipients_total{outcome="deferred"}`,
		`dkimrelay_provider_delivered_total{provider="other"}`,
		`dkimrelay_provider_delivered_today{provider="other"}`,
		`dkimrelay_provider_deferred_total{provider="google"}`,
		`dkimrelay_provider_deferred_total{provider="other"}`,
		`dkimrelay_provider_bounced_total{provider="other"}`,
		`dkimrelay_provider_pauses_total{provider="google"}`,
		`dkimrelay_blocked_by_receiver_total{mx="mx.good.test"}`,
		`dkimrelay_delivery_tls_policy_total{policy=`,
		`dkimrelay_delivery_tls_failures_total{failure="starttls",policy="required"}`,
		`dkimrelay_messages_accepted_by_class_total{class="transactional"}`,
		`dkimrelay_duplicates_total{user="app"}`,
		`dkimrelay_recipients_suppressed_total`,
	}
	// missing are the wanted series not exposed with a value above 0 (a
	// counter without labels is exposed from the start, at 0).
	missing := func(exposed string) []string {
		var out []string
	want:
		for _, s := range wantSeries {
			for _, line := range strings.Split(exposed, "\n") {
				if strings.HasPrefix(line, s) && !strings.HasSuffix(line, " 0") {
					continue want
				}
			}
			out = append(out, s)
		}
		return out
	}
	var exposed string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		exposed = scrape()
		if len(missing(exposed)) == 0 {
			break
		}
	}
	for _, s := range missing(exposed) {
		t.Errorf("/metrics has no %s above 0 after the test's mail", s)
	}
	samples := map[string]bool{}
	for _, line := range strings.Split(exposed, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		samples[name] = true
	}
	check := func(where, expr string) {
		for _, name := range metricName.FindAllString(expr, -1) {
			if !samples[name] {
				t.Errorf("%s names %s, which the relay's /metrics does not expose", where, name)
			}
		}
	}
	for title, exprs := range panels {
		for _, e := range exprs {
			check("dashboard panel "+title, e)
		}
	}
	for name, e := range alerts {
		check("alert "+name, e)
	}
	if t.Failed() {
		t.Logf("exposed:\n%s", exposed)
	}

	if out, err := exec.Command(promtool, "check", "rules", alertsPath).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules %s: %v\n%s", alertsPath, err, out)
	}
	// The dashboard's queries, as recording rules, so promtool parses them
	// too ($__rate_interval is Grafana's; 5m stands in).
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	titles := make([]string, 0, len(panels))
	for title := range panels {
		titles = append(titles, title)
	}
	slices.Sort(titles)
	for i, title := range titles {
		for j, e := range panels[title] {
			q, _ := json.Marshal(strings.ReplaceAll(e, "$__rate_interval", "5m"))
			fmt.Fprintf(&rules, "      - record: dashboard:panel%d_%d\n        expr: %s\n", i, j, q)
		}
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(path, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool rejects the dashboard's queries: %v\n%s", err, out)
	}
}
