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

	"go.yaml.in/yaml/v3"

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
// delivers, defers and bounces real messages, checks SPF and DMARC and
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
	for _, want := range []string{"DKIMRelayQueueGrowing", "DKIMRelayOldestMessageOld", "DKIMRelayBounceRateHigh", "DKIMRelayKeyRotationOverdue", "DKIMRelayDNSCheckFailing"} {
		if alerts[want] == "" {
			t.Errorf("%s has no alert %s", alertsPath, want)
		}
	}

	port, ls := testkit.ListenSame(t, "127.0.0.2")
	serveSink(t, ls[0])
	dns := dnstest.NewServer(t)
	dns.AddZone(hardZone)
	// Bounced: a null MX (RFC 7505). Deferred: an MX where nothing listens.
	dns.AddZone("null.test. MX 0 .\ndead.test. MX 10 mx.dead.test.\nmx.dead.test. A 127.0.0.5\n")
	// SPF passes; no DMARC record, which the check reports.
	dns.Add(`example.org. 300 IN TXT "v=spf1 ip4:127.0.0.1 -all"`)
	h := newHardRelay(t, dns, hardOptions{port: port, spf: "warn",
		delivery: `retry_min = "1h"` + "\n" + `retry_max = "2h"`,
		keys:     `rotate_after = "720h"` + "\n[metrics]\nlisten = \"127.0.0.1:0\""})

	for _, rcpt := range []string{"a@good.test", "b@null.test", "c@dead.test"} {
		mustSend(t, h.Addr(), []string{rcpt}, hardMessage(strings.Split(rcpt, "@")[0], rcpt))
	}
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
	var exposed string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		exposed = scrape()
		if strings.Contains(exposed, `dkimrelay_recipients_total{outcome="delivered"}`) &&
			strings.Contains(exposed, `dkimrelay_recipients_total{outcome="bounced"}`) &&
			strings.Contains(exposed, `dkimrelay_recipients_total{outcome="deferred"}`) {
			break
		}
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
