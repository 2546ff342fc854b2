package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"dkimrelay/events"
	"dkimrelay/keys"
	"dkimrelay/relay/metrics"
	"dkimrelay/reports/summary"
)

// observer serves the Prometheus metrics, /healthz and /readyz on
// metrics.listen. Its counters come from the event log (metrics.Tee), so
// the submission and delivery code stay unaware of it.
type observer struct {
	m     *metrics.Metrics
	page  *statusPage // GET /: the status page (statuspage.go)
	srv   *http.Server
	addr  atomic.Value // string: the listening address, once started
	ready atomic.Bool  // listeners up and not draining
	done  chan struct{}
}

// observeLog wraps the relay's logger so that its events feed the metrics,
// when metrics.listen is set; otherwise it returns log unchanged.
func (r *Relay) observeLog(log *slog.Logger) *slog.Logger {
	if r.cfg.Metrics.Listen == "" {
		return log
	}
	r.obs = &observer{m: metrics.New(metrics.Options{
		Queue:       r.queueGauge,
		Keys:        r.keyGauge,
		RotateAfter: r.cfg.Keys.RotateAfter,
		Reports:     func() *summary.Summary { return r.ReportSummary(context.Background()) },
	})}
	r.obs.page = r.newStatusPage(log)
	return slog.New(r.obs.m.Tee(r.obs.page.history.Tee(log.Handler())))
}

// queueGauge is the queue's size and its oldest message's arrival.
func (r *Relay) queueGauge() (int, time.Time) {
	if r.store == nil {
		return 0, time.Time{}
	}
	return r.store.Stats()
}

// keyGauge is the keys as of the last reload (the CLI's key commands make
// the relay reload): a scrape reads no file and parses no private key.
func (r *Relay) keyGauge() []metrics.Key {
	if p := r.keyMetrics.Load(); p != nil {
		return *p
	}
	return nil
}

// keyGaugeOf is what the key-age gauge needs of a snapshot's keys.
func keyGaugeOf(sn *keys.Snapshot) *[]metrics.Key {
	list := sn.Keys()
	out := make([]metrics.Key, len(list))
	for i, k := range list {
		out[i] = metrics.Key{Domain: k.Domain, Selector: k.Selector, Algorithm: string(k.Algorithm), State: string(k.State), Created: k.Created}
	}
	return &out
}

// startObserve listens on metrics.listen and serves until stopObserve.
// The relay counts as ready from here until ctx ends (the drain begins).
func (r *Relay) startObserve(ctx context.Context) error {
	if r.obs == nil {
		return nil
	}
	o := r.obs
	handler, err := r.observeHandler()
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", r.cfg.Metrics.Listen)
	if err != nil {
		return fmt.Errorf("metrics.listen %s: %w", r.cfg.Metrics.Listen, err)
	}
	o.addr.Store(l.Addr().String())
	o.done = make(chan struct{})
	go o.page.keys.Run(ctx)
	o.srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      30 * time.Second,
	}
	o.ready.Store(true)
	go func() {
		<-ctx.Done()
		o.ready.Store(false)
	}()
	go func() {
		defer close(o.done)
		if err := o.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.log.Error(events.MetricsServer, events.ErrorKey, err.Error())
		}
	}()
	r.log.Info(events.MetricsServer, events.ListenKey, l.Addr().String())
	return nil
}

// stopObserve closes the metrics listener.
func (r *Relay) stopObserve() {
	if r.obs == nil || r.obs.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.obs.srv.Shutdown(ctx)
	<-r.obs.done
}

// MetricsAddr is the address the metrics endpoint listens on, or "" when
// it is off or not started (a config with port 0 gets a free port).
func (r *Relay) MetricsAddr() string {
	if r.obs == nil {
		return ""
	}
	a, _ := r.obs.addr.Load().(string)
	return a
}

// readiness lists what keeps the relay from taking and delivering mail:
// its listeners are down or draining, the queue cannot be written, or no
// domain has a key to sign with.
func (r *Relay) readiness() []string {
	var problems []string
	if !r.obs.ready.Load() {
		problems = append(problems, "submission listeners are not accepting (starting or draining)")
	}
	if err := writable(r.cfg.QueueDir()); err != nil {
		problems = append(problems, "queue is not writable: "+err.Error())
	}
	if len(r.current.Load().Keys.Domains()) == 0 {
		problems = append(problems, "no active DKIM key: see `dkimrelay keys list`")
	}
	return problems
}

// writable checks that dir may be written and its file system has room,
// without writing anything into the queue.
func writable(dir string) error {
	if err := unix.Access(dir, unix.W_OK); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if st.Bavail == 0 {
		return fmt.Errorf("%s: the file system is full", dir)
	}
	return nil
}
