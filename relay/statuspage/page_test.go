package statuspage_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"dkimrelay/internal/testkit"
	"dkimrelay/keys"
)

// pageFigures is what the page shows, read from the rendered DOM.
type pageFigures struct {
	Queue        map[string]string            `json:"queue"`
	Classes      map[string]map[string]string `json:"classes"`
	Totals       map[string]string            `json:"totals"`
	Slots        []string                     `json:"slots"`
	Bars         int                          `json:"bars"`
	Since        string                       `json:"since"`
	Destinations map[string]map[string]string `json:"destinations"`
	Providers    map[string]string            `json:"providers"`
	Policies     map[string]map[string]string `json:"policies"`
	Keys         map[string]map[string]string `json:"keys"`
	DMARC        map[string]string            `json:"dmarc"`
	Overflow     bool                         `json:"overflow"`
}

const readFigures = `(() => {
  const text = s => { const e = document.querySelector(s); return e ? e.textContent.trim() : ""; };
  const rows = (sel, key) => Object.fromEntries([...document.querySelectorAll(sel)].map(r =>
    [r.dataset[key], Object.fromEntries([...r.querySelectorAll('[data-k]')].map(c => [c.dataset.k, c.textContent.trim()]))]));
  return {
    queue: {messages: text('#queue-messages'), queued: text('#queue-queued'), deferred: text('#queue-deferred'), oldest: text('#queue-oldest')},
    classes: rows('#queue-classes tbody tr', 'class'),
    totals: Object.fromEntries([...document.querySelectorAll('#day-totals [data-k]')].map(e => [e.dataset.k, e.textContent.trim()])),
    slots: [...document.querySelectorAll('#day-chart .slot title')].map(e => e.textContent),
    bars: document.querySelectorAll('#day-chart rect[data-outcome]').length,
    since: text('#counting-since'),
    destinations: rows('#dest-table tbody tr', 'domain'),
    providers: Object.fromEntries([...document.querySelectorAll('#dest-table tbody tr')].map(r => [r.dataset.domain, r.children[1].textContent.trim()])),
    policies: rows('#tls-policies li', 'policy'),
    keys: rows('#keys-table tbody tr', 'selector'),
    dmarc: {reports: text('#dmarc-reports'), messages: text('#dmarc-messages'), pass: text('#dmarc-pass'), unknown: text('#dmarc-unknown')},
    overflow: document.documentElement.scrollWidth > window.innerWidth,
  };
})()`

// TestStatusPageInBrowser sends real mail through a relay (delivered over
// TLS and in the clear, deferred, bounced, a bulk message), then opens
// the status page in headless Chromium: every section shows the figures
// the relay has (its queue through the control socket, its log, its keys,
// its report summary), the search tells a message's story as `logs --id`
// does, nothing breaks the page's Content-Security-Policy or logs an
// error, and it fits a phone's width. Screenshots at desktop and phone
// widths go to the artifacts folder.
func TestStatusPageInBrowser(t *testing.T) {
	dir := artifacts(t)
	h := startPageRelay(t)
	// The harness waits for the submission listeners; the metrics
	// server opens right after them.
	testkit.Await(t, 10*time.Second, "the metrics server", func() bool { return h.Daemon.MetricsAddr() != "" })
	addr := h.Daemon.MetricsAddr()

	// Basic auth on every path but /healthz.
	for _, c := range []struct {
		path, password string
		want           int
	}{
		{"/", "", http.StatusUnauthorized},
		{"/", "wrong", http.StatusUnauthorized},
		{"/metrics", "", http.StatusUnauthorized},
		{"/readyz", "", http.StatusUnauthorized},
		{"/healthz", "", http.StatusOK},
		{"/", metricsPass, http.StatusOK},
		{"/metrics", metricsPass, http.StatusOK},
		{"/nothing", metricsPass, http.StatusNotFound},
	} {
		if got := get(t, addr, c.path, c.password); got != c.want {
			t.Errorf("GET %s with password %q: %d, want %d", c.path, c.password, got, c.want)
		}
	}

	good := send(t, h, "app", "alice@good.test", "bob@good.test")
	plain := send(t, h, "app", "carol@plain.test")
	slow := send(t, h, "app", "dave@slow.test")
	bulk := send(t, h, "news", "erin@slow.test")
	gone := send(t, h, "app", "frank@gone.test")
	for _, w := range []struct{ event, qid, rcpt string }{
		{"delivered", good, "alice@good.test"}, {"delivered", good, "bob@good.test"},
		{"delivered", plain, "carol@plain.test"}, {"deferred", slow, "dave@slow.test"},
		{"deferred", bulk, "erin@slow.test"}, {"bounced", gone, "frank@gone.test"},
		{"delivered", "", "app@example.org"}, // the bounce
	} {
		h.WaitEvent(w.event, 30*time.Second, func(ev map[string]any) bool {
			return ev["rcpt"] == w.rcpt && (w.qid == "" || ev["qid"] == w.qid)
		})
	}
	// frank bounced for good: the next message to him is suppressed.
	again := send(t, h, "app", "frank@gone.test")
	h.WaitEvent("suppressed", 30*time.Second, func(ev map[string]any) bool { return ev["qid"] == again })

	b := newBrowser(t, authHeader())
	url := "http://" + addr + "/"
	var f pageFigures
	// The keys' DNS check runs at start in the background; the page shows
	// its result once it is in.
	testkit.Await(t, 20*time.Second, "the keys' DNS status on the page", func() bool {
		b.open(url, 1280, 900, false)
		f = evaluate[pageFigures](b, readFigures)
		for _, k := range f.Keys {
			if k["dns"] == "not checked yet" {
				return false
			}
		}
		return len(f.Keys) > 0
	})

	// The queue, against the relay's own listing.
	list := queueTruth(t, h)
	byState := map[string]int{}
	classes := map[string]map[string]int{"transactional": {}, "bulk": {}}
	var oldest time.Time
	for _, m := range list {
		state := "queued"
		for _, r := range m.Rcpts {
			if r.State == "deferred" {
				state = "deferred"
			}
		}
		byState[state]++
		classes[m.Class][state]++
		if oldest.IsZero() || m.Received.Before(oldest) {
			oldest = m.Received
		}
	}
	if len(list) != 2 || byState["deferred"] != 2 {
		t.Fatalf("the relay's queue is %+v, the test expects the two deferred messages", list)
	}
	wantQueue := map[string]string{"messages": strconv.Itoa(len(list)), "queued": strconv.Itoa(byState["queued"]), "deferred": strconv.Itoa(byState["deferred"])}
	for k, v := range wantQueue {
		if f.Queue[k] != v {
			t.Errorf("queue %s: the page shows %q, the relay has %s", k, f.Queue[k], v)
		}
	}
	if age := time.Since(oldest); !regexp.MustCompile(`^\d+s$|^\d+m \d\ds$`).MatchString(f.Queue["oldest"]) || age > 10*time.Minute {
		t.Errorf("oldest message: the page shows %q, the relay's is %v old", f.Queue["oldest"], age)
	}
	for class, states := range classes {
		for _, s := range []string{"queued", "deferred"} {
			if got := f.Classes[class][s]; got != strconv.Itoa(states[s]) {
				t.Errorf("class %s %s: the page shows %q, the relay has %d", class, s, got, states[s])
			}
		}
	}

	// The last 24 hours, against the events the relay logged.
	logged := map[string]int{}
	for _, name := range []string{"accepted", "delivered", "deferred", "bounced", "expired", "suppressed"} {
		logged[name] = len(h.Logs.Events(name))
	}
	logged["bounced"] += logged["expired"]
	if logged["accepted"] != 7 || logged["bounced"] != 1 || logged["suppressed"] != 1 {
		t.Fatalf("the relay logged %v: the test expects 6 messages and a bounce accepted, 1 recipient bounced, 1 suppressed", logged)
	}
	for _, k := range []string{"accepted", "delivered", "deferred", "bounced", "suppressed"} {
		if f.Totals[k] != strconv.Itoa(logged[k]) {
			t.Errorf("24 h total %s: the page shows %q, the relay logged %d", k, f.Totals[k], logged[k])
		}
	}
	// The chart's hours add up to the same totals.
	if len(f.Slots) != 24 {
		t.Fatalf("the chart has %d hours", len(f.Slots))
	}
	charted := map[string]int{}
	for _, title := range f.Slots {
		for _, m := range regexp.MustCompile(`(\d+) (\w+)`).FindAllStringSubmatch(title, -1) {
			n, _ := strconv.Atoi(m[1])
			charted[m[2]] += n
		}
	}
	for _, k := range []string{"accepted", "delivered", "deferred", "bounced", "suppressed"} {
		if charted[k] != logged[k] {
			t.Errorf("chart %s: its hours add up to %d, the relay logged %d", k, charted[k], logged[k])
		}
	}
	if f.Bars == 0 {
		t.Error("the chart draws no bar")
	}
	if !strings.Contains(f.Since, "Counting since") {
		t.Errorf("a relay younger than a day does not say since when it counts: %q", f.Since)
	}

	// Per destination, and the TLS policies, from the delivery events.
	wantDest := map[string]map[string]int{}
	policies := map[string]int{}
	for _, name := range []string{"delivered", "deferred", "bounced", "suppressed"} {
		for _, ev := range h.Logs.Events(name) {
			rcpt, _ := ev["rcpt"].(string)
			d := rcpt[strings.LastIndex(rcpt, "@")+1:]
			if wantDest[d] == nil {
				wantDest[d] = map[string]int{}
			}
			wantDest[d][name]++
			if name == "delivered" {
				p, _ := ev["tls_policy"].(string)
				policies[p]++
			}
		}
	}
	if len(f.Destinations) != len(wantDest) {
		t.Errorf("destinations: the page shows %v, the relay logged %v", f.Destinations, wantDest)
	}
	for d, counts := range wantDest {
		for _, k := range []string{"delivered", "deferred", "bounced", "suppressed"} {
			if got := f.Destinations[d][k]; got != strconv.Itoa(counts[k]) {
				t.Errorf("destination %s %s: the page shows %q, the relay logged %d", d, k, got, counts[k])
			}
		}
	}
	if f.Providers["good.test"] != "good.test" {
		t.Errorf("provider of good.test: %q", f.Providers["good.test"])
	}
	if policies["opportunistic"] == 0 || policies["none"] == 0 {
		t.Fatalf("policies logged %v: the test expects deliveries over TLS and in the clear", policies)
	}
	if len(f.Policies) != len(policies) {
		t.Errorf("TLS policies: the page shows %v, the relay logged %v", f.Policies, policies)
	}
	for p, n := range policies {
		if got := f.Policies[p]["count"]; got != strconv.Itoa(n) {
			t.Errorf("TLS policy %s: the page shows %q, the relay logged %d", p, got, n)
		}
	}

	// The keys: the active one published, the pending one not.
	st, err := keys.Open(h.Config.KeysDir())
	if err != nil {
		t.Fatal(err)
	}
	active, err := st.Get(domain, h.Keys[domain].Selector)
	if err != nil {
		t.Fatal(err)
	}
	if k := f.Keys[active.Selector]; k["state"] != "active" || k["dns"] != "published" ||
		!strings.Contains(k["rotation"], active.Activated.Add(h.Config.Keys.RotateAfter).UTC().Format("2006-01-02")) {
		t.Errorf("active key %s: the page shows %v", active.Selector, k)
	}
	if len(f.Keys) != 2 {
		t.Errorf("keys: the page shows %v, the store has two", f.Keys)
	}
	for sel, k := range f.Keys {
		if sel != active.Selector && (k["state"] != "pending" || k["dns"] != "missing") {
			t.Errorf("pending key %s: the page shows %v", sel, k)
		}
	}

	// The DMARC reports, against the relay's summary.
	sum := h.Daemon.ReportSummary(t.Context())
	pass := sum.DMARC.Counts.DMARC["pass"]
	wantDMARC := map[string]string{"reports": strconv.Itoa(sum.DMARC.Reports), "messages": strconv.Itoa(sum.DMARC.Messages),
		"pass": fmt.Sprintf("%d%%", (pass*100+sum.DMARC.Messages/2)/max(1, sum.DMARC.Messages)), "unknown": strconv.Itoa(sum.DMARC.UnknownSources)}
	if sum.DMARC.Reports != 1 || sum.DMARC.Messages != 43 {
		t.Fatalf("the relay's report summary %+v: the test imported one report of 43 messages", sum.DMARC)
	}
	for k, v := range wantDMARC {
		if f.DMARC[k] != v {
			t.Errorf("DMARC %s: the page shows %q, the relay's summary %s", k, f.DMARC[k], v)
		}
	}
	if p := b.violations(); len(p) > 0 {
		t.Errorf("the page at desktop width logged problems:\n%s", strings.Join(p, "\n"))
	}
	shots := []string{b.screenshot(dir, "status-desktop")}

	// A phone: no sideways scrolling, same figures.
	b.open(url, 390, 844, true)
	phone := evaluate[pageFigures](b, readFigures)
	if phone.Overflow {
		t.Error("the page is wider than a phone's screen")
	}
	if phone.Queue["deferred"] != f.Queue["deferred"] || phone.Totals["delivered"] != f.Totals["delivered"] {
		t.Errorf("the phone's page differs: %v %v", phone.Queue, phone.Totals)
	}
	shots = append(shots, b.screenshot(dir, "status-phone"), b.screenshotScreen(dir, "status-phone-first-screen"))
	// The dark scheme, for the eye of whoever looks at the screenshots.
	b.colorScheme("dark")
	b.open(url, 1280, 900, false)
	shots = append(shots, b.screenshot(dir, "status-desktop-dark"))
	b.colorScheme("light")

	// The search: the bounced and the suppressed message by their
	// recipient, then the delivered one by its QID, typed into the form.
	for _, q := range []struct {
		query string
		qids  []string
		name  string
	}{
		{"<frank@gone.test>", []string{gone, again}, "search-recipient"},
		{good, []string{good}, "search-qid"},
	} {
		b.open(url, 1280, 900, false)
		b.run(chromedp.SendKeys(chromedp.CSS("#q"), q.query), chromedp.Submit(chromedp.CSS("#q")),
			chromedp.WaitVisible(chromedp.CSS("#search")))
		type storyShown struct {
			QID   string   `json:"qid"`
			Lines []string `json:"lines"`
		}
		stories := evaluate[[]storyShown](b, `[...document.querySelectorAll('#search .story')].map(s =>
			({qid: s.dataset.qid, lines: [...s.querySelectorAll('li code')].map(c => c.textContent)}))`)
		if len(stories) != len(q.qids) {
			t.Fatalf("search %q: stories %v, want those of %v", q.query, stories, q.qids)
		}
		for i, qid := range q.qids {
			if stories[i].QID != qid {
				t.Errorf("search %q: story %d is of %s, want %s", q.query, i, stories[i].QID, qid)
			}
			want := story(t, h, qid)
			if strings.Join(stories[i].Lines, "\n") != strings.Join(want, "\n") {
				t.Errorf("search %q tells:\n%s\nlogs --id tells:\n%s", q.query, strings.Join(stories[i].Lines, "\n"), strings.Join(want, "\n"))
			}
			if len(want) < 2 {
				t.Errorf("the story of %s is %v", qid, want)
			}
		}
		if p := b.violations(); len(p) > 0 {
			t.Errorf("the search page logged problems:\n%s", strings.Join(p, "\n"))
		}
		shots = append(shots, b.screenshot(dir, q.name))
	}
	b.open(url+"?q=nobody%40nowhere.test", 390, 844, true)
	if none := evaluate[string](b, `document.querySelector('#search-none') ? 'found' : ''`); none != "found" {
		t.Error("a search that finds nothing does not say so")
	}
	for _, s := range shots {
		t.Logf("screenshot: %s", s)
	}
}

// TestBrowserSeesViolations: the watch the page's test relies on reports
// a page whose inline style its own policy refuses, and a console error:
// a silent browser would pass any page.
func TestBrowserSeesViolations(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!DOCTYPE html><html><head><link rel="icon" href="data:,"><style>body { color: red }</style></head><body>x</body></html>`))
	}))
	defer srv.Close()
	b := newBrowser(t, nil)
	b.open(srv.URL, 800, 600, false)
	testkit.Await(t, 10*time.Second, "the CSP violation to be reported", func() bool {
		for _, p := range b.violations() {
			if strings.Contains(p, "style-src") {
				return true
			}
		}
		return false
	})
}
