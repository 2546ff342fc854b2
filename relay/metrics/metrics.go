// Package metrics exposes the relay's Prometheus metrics, /healthz and
// /readyz.
//
// Most counters are derived from the JSON event log: a slog.Handler
// wrapper (Tee) sees every event the relay logs and counts it, so the
// submission and delivery code need not know about metrics, and the
// counters always agree with what `dkimrelay logs` shows. The gauges (queue
// size, oldest message, key ages) are read when Prometheus scrapes.
package metrics

import (
	"net/http"
	"sync"
	"time"

	"dkimrelay/reports/summary"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Key is one DKIM key as the key-age gauge reports it.
type Key struct {
	Domain, Selector, Algorithm, State string
	Created                            time.Time
}

// Options are the sources of the gauges read at scrape time. Each may be
// nil.
type Options struct {
	// Queue returns the number of queued messages and the time the
	// oldest was accepted (zero when the queue is empty).
	Queue func() (n int, oldest time.Time)
	// Keys returns the keys in the store.
	Keys func() []Key
	// Reports returns the summary of the recent DMARC and TLS reports
	// received (reports.Overview).
	Reports func() *summary.Summary
	// RotateAfter is keys.rotate_after, exported as a gauge so that an
	// alert can compare the active keys' ages with it; 0 leaves it out.
	RotateAfter time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// NoProcess leaves out the Go runtime and process collectors (tests
	// that compare the whole exposition use it).
	NoProcess bool
}

// Metrics holds the relay's metrics in a registry of its own (no global
// state: two relays in one test process do not share counters).
type Metrics struct {
	reg  *prometheus.Registry
	opts Options

	connections   prometheus.Counter
	accepted      *prometheus.CounterVec // kind
	byClass       *prometheus.CounterVec // class
	duplicates    *prometheus.CounterVec // user
	suppressed    prometheus.Counter
	blocked       *prometheus.CounterVec // mx
	pauses        *prometheus.CounterVec // provider
	toProvider    *prometheus.CounterVec // provider
	deferredAt    *prometheus.CounterVec // provider
	bouncedAt     *prometheus.CounterVec // provider
	today         *dailyCounts
	rejected      *prometheus.CounterVec // reason
	msgDelivered  prometheus.Counter
	msgDeferred   prometheus.Counter
	msgBounced    prometheus.Counter
	deleted       prometheus.Counter
	recipients    *prometheus.CounterVec // outcome
	authAttempts  *prometheus.CounterVec // mechanism, result
	authFailures  *prometheus.CounterVec // mechanism
	tlsVersions   *prometheus.CounterVec // version
	tlsPolicies   *prometheus.CounterVec // policy
	tlsFailures   *prometheus.CounterVec // policy, failure
	spfResults    *prometheus.CounterVec // result
	dmarcProblems *prometheus.CounterVec // result
	deliveryDelay prometheus.Histogram
	signing       prometheus.Histogram

	// seen turns per-recipient events into per-message counts: see
	// countOnce.
	mu   sync.Mutex
	seen *recentSet
}

// New makes the metrics and registers them.
func New(opts Options) *Metrics {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Metrics{reg: prometheus.NewRegistry(), opts: opts, seen: newRecentSet(recentMessages)}
	f := factory{m.reg}
	m.connections = f.counter("dkimrelay_connections_total", "Submission connections accepted.")
	m.accepted = f.counterVec("dkimrelay_messages_accepted_total", "Messages accepted into the queue, by kind (submission, or bounce made by the relay).", "kind")
	m.byClass = f.counterVec("dkimrelay_messages_accepted_by_class_total", "Messages accepted into the queue, by traffic class (transactional, bulk).", "class")
	m.duplicates = f.counterVec("dkimrelay_duplicates_total", "Resubmissions answered with the queue ID of the identical message accepted within submission.duplicate_window, by login.", "user")
	m.suppressed = f.counter("dkimrelay_recipients_suppressed_total", "Recipients not delivered to because they are on the suppression list.")
	m.blocked = f.counterVec("dkimrelay_blocked_by_receiver_total", "Permanent refusals because of the sender (5.7.x, a blocklist), by the receiving host: the administrator must act.", "mx")
	m.pauses = f.counterVec("dkimrelay_provider_pauses_total", "Pauses of a destination provider after a throttling reply, by provider.", "provider")
	m.toProvider = f.counterVec("dkimrelay_provider_delivered_total", "Recipients delivered, by the big mailbox provider that took them (google, microsoft, yahoo, ...; other for the rest).", "provider")
	m.deferredAt = f.counterVec("dkimrelay_provider_deferred_total", "Recipients deferred, by the big mailbox provider whose MX host answered (other for the rest, and when no host answered).", "provider")
	m.bouncedAt = f.counterVec("dkimrelay_provider_bounced_total", "Recipients bounced, by the big mailbox provider whose MX host refused them (other for the rest, and for a domain with no usable MX).", "provider")
	today := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "dkimrelay_provider_delivered_today",
		Help: "Recipients delivered today (UTC) by provider: past 5,000 a day Gmail and Yahoo count the domain as a bulk sender."}, []string{"provider"})
	m.reg.MustRegister(today)
	m.today = &dailyCounts{gauge: today, now: opts.Now}
	m.rejected = f.counterVec("dkimrelay_messages_rejected_total", "Submission commands refused, by reason class (auth_required, sender, no_key, spf, from_header, malformed, syntax, size, connections, local_error, other).", "reason")
	m.msgDelivered = f.counter("dkimrelay_messages_delivered_total", "Messages with at least one recipient delivered (each message counted once).")
	m.msgDeferred = f.counter("dkimrelay_messages_deferred_total", "Delivery attempts of a message that left recipients for a later retry.")
	m.msgBounced = f.counter("dkimrelay_messages_bounced_total", "Messages with at least one recipient failed for good, bounced or expired (each message counted once).")
	m.deleted = f.counter("dkimrelay_messages_deleted_total", "Messages deleted from the queue by `dkimrelay queue delete`.")
	m.recipients = f.counterVec("dkimrelay_recipients_total", "Recipient delivery outcomes: delivered, deferred, bounced, expired.", "outcome")
	m.authAttempts = f.counterVec("dkimrelay_auth_attempts_total", "SMTP AUTH attempts by mechanism and result (ok, failed).", "mechanism", "result")
	m.authFailures = f.counterVec("dkimrelay_auth_failures_total", "Failed SMTP AUTH attempts by mechanism.", "mechanism")
	m.tlsVersions = f.counterVec("dkimrelay_delivery_tls_total", "Recipients delivered, by the TLS version of the outbound session (none: plaintext).", "version")
	m.tlsPolicies = f.counterVec("dkimrelay_delivery_tls_policy_total", "Recipients delivered, by the TLS policy the session was held to (none, opportunistic, dane, mta-sts, mta-sts-testing, required, smarthost).", "policy")
	m.tlsFailures = f.counterVec("dkimrelay_delivery_tls_failures_total", "Recipients deferred or bounced because a TLS policy refused the server, by policy and failure (starttls, certificate_name, certificate_expired, certificate_untrusted, tlsa_mismatch, mx_not_in_policy, handshake, other).", "policy", "failure")
	m.spfResults = f.counterVec("dkimrelay_spf_results_total", "SPF evaluations of egress IPs at submission, by result (RFC 7208 section 2.6).", "result")
	m.dmarcProblems = f.counterVec("dkimrelay_dmarc_problems_total", "DMARC checks at submission that found no alignment or no answer, by result (misaligned, none, temperror); aligned checks are not counted.", "result")
	m.deliveryDelay = f.histogram("dkimrelay_delivery_delay_seconds", "Time from acceptance to delivery of each recipient.",
		[]float64{0.1, 0.5, 1, 2.5, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 120 * 3600})
	m.signing = f.histogram("dkimrelay_dkim_signing_seconds", "Time to compute the DKIM signatures of one message once its body is hashed.",
		[]float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1})

	if opts.Queue != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "dkimrelay_queue_messages", Help: "Messages in the queue, in flight or waiting.",
		}, func() float64 { n, _ := opts.Queue(); return float64(n) }))
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "dkimrelay_queue_oldest_message_age_seconds", Help: "Age of the oldest queued message; 0 when the queue is empty.",
		}, func() float64 {
			_, oldest := opts.Queue()
			if oldest.IsZero() {
				return 0
			}
			return max(0, opts.Now().Sub(oldest).Seconds())
		}))
	}
	if opts.Keys != nil {
		m.reg.MustRegister(&keyCollector{keys: opts.Keys, now: opts.Now})
	}
	if opts.RotateAfter > 0 {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "dkimrelay_dkim_rotate_after_seconds", Help: "keys.rotate_after: the age at which `dkimrelay keys rotate` starts replacing an active key.",
		}, func() float64 { return opts.RotateAfter.Seconds() }))
	}
	if opts.Reports != nil {
		m.reg.MustRegister(&reportCollector{summary: opts.Reports})
	}
	if !opts.NoProcess {
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// Registry is where the metrics are registered, for a caller that adds
// its own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Readiness reports what keeps the relay from being ready; nil or empty
// means ready.
type Readiness func() []string

// HTTPHandler serves /metrics, /healthz (the process answers) and /readyz
// (ready reports nothing wrong: 200, else 503 with one line per problem).
func (m *Metrics) HTTPHandler(ready Readiness) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		var problems []string
		if ready != nil {
			problems = ready()
		}
		if len(problems) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			for _, p := range problems {
				w.Write([]byte(p + "\n"))
			}
			return
		}
		w.Write([]byte("ready\n"))
	})
	return mux
}

// factory registers metrics as it makes them.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}

// keyCollector reports each key's age when scraped, so keys generated or
// activated by the CLI show up without a reload.
type keyCollector struct {
	keys func() []Key
	now  func() time.Time
}

var keyAgeDesc = prometheus.NewDesc("dkimrelay_dkim_key_age_seconds",
	"Time since each DKIM key was generated, by domain, selector, algorithm and state (pending, active, retiring).",
	[]string{"domain", "selector", "algorithm", "state"}, nil)

func (c *keyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- keyAgeDesc }

func (c *keyCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	for _, k := range c.keys() {
		ch <- prometheus.MustNewConstMetric(keyAgeDesc, prometheus.GaugeValue,
			max(0, now.Sub(k.Created).Seconds()), k.Domain, k.Selector, k.Algorithm, k.State)
	}
}
