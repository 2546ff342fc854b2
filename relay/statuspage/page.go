// Package statuspage is the relay's status page, GET / on metrics.listen:
// the queue now, the last 24 hours of mail as a chart, per destination,
// the TLS policies of the deliveries, the DKIM keys with their DNS status,
// the DMARC reports received, and a search that tells a message's story
// from the event log as `dkimrelay logs --id` does (docs/operations.md).
//
// It is one server-rendered HTML page with inline SVG charts: no
// JavaScript, no external assets, so it works offline and under the
// strict Content-Security-Policy it sends.
package statuspage

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"dkimrelay/events"
	"dkimrelay/logview"
	"dkimrelay/reports/summary"
)

// Options are the page's sources. Any may be nil (zero): its section
// says so.
type Options struct {
	// Hostname is the relay's name, the page's title.
	Hostname string
	// History counts the events (fed by its Tee).
	History *History
	// Queue walks the queue's messages.
	Queue Walker
	// Keys holds the keys and their last DNS check.
	Keys *KeyChecks
	// RotateAfter and RetireAfter are keys.rotate_after and
	// keys.retire_after.
	RotateAfter, RetireAfter time.Duration
	// Reports is the summary of the DMARC and TLS reports received.
	Reports func(context.Context) *summary.Summary
	// LogFile is log.file, which the search reads; "" when the relay
	// logs to stderr.
	LogFile string
	// Log receives the page's own problems (a failed render).
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Page serves the status page.
type Page struct {
	opts Options
}

// New makes the page.
func New(opts Options) *Page {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Page{opts: opts}
}

//go:embed page.html
var pageHTML string

//go:embed style.css
var styleCSS string

var pageTemplate = template.Must(template.New("page").Funcs(funcs).Parse(pageHTML))

// contentSecurityPolicy allows the page's one stylesheet (by its hash),
// data: images (the icon), and forms to itself; nothing else loads or
// runs.
var contentSecurityPolicy = func() string {
	sum := sha256.Sum256([]byte(styleCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; img-src data:; " +
		"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
}()

// searchLimit is how many messages to a recipient the search shows.
const searchLimit = 10

// searchTimeout bounds a search through a large log.
const searchTimeout = 20 * time.Second

// ServeHTTP renders the page; ?q= searches the log for a queue ID or a
// recipient.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), searchTimeout)
	defer cancel()
	v := p.view(ctx, r.URL.Query().Get("q"))
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, v); err != nil {
		p.opts.Log.Error(events.MetricsServer, events.ErrorKey, "the status page: "+err.Error())
		http.Error(w, "the status page could not be rendered: see the relay's log", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

// search runs the search of the page's query.
func (p *Page) search(ctx context.Context, q string) *searchView {
	s := &searchView{Query: q}
	if p.opts.LogFile == "" {
		s.Problem = "log.file is not set, so the relay logs to stderr and there is no log file to search: set log.file, or search the journal with `journalctl -u dkimrelay -o cat | dkimrelay logs --file - --id QID`"
		return s
	}
	found, err := logview.Find(ctx, p.opts.LogFile, q, searchLimit)
	if err != nil {
		s.Problem = err.Error()
		return s
	}
	s.More, s.Skipped, s.Warnings = found.More, found.Skipped, found.Warnings
	for _, st := range found.Stories {
		sv := storyView{QID: st.QID}
		for _, e := range st.Events {
			sv.Lines = append(sv.Lines, eventLine{Name: e.Name, Text: logview.Format(e, time.UTC)})
		}
		s.Stories = append(s.Stories, sv)
	}
	return s
}
