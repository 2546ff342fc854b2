// Package relay is the dkimrelay daemon: it wires the submission server,
// the DKIM keys, the durable queue and the delivery workers together, and
// reloads logins and keys while it runs.
package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"dkimrelay/authcheck"
	"dkimrelay/cluster"
	"dkimrelay/config"
	"dkimrelay/control"
	"dkimrelay/events"
	"dkimrelay/internal/atomicfile"
	"dkimrelay/internal/secretfile"
	"dkimrelay/internal/tlsroots"
	"dkimrelay/keys"
	"dkimrelay/mtasts"
	"dkimrelay/relay/dedup"
	"dkimrelay/relay/delivery"
	"dkimrelay/relay/dispatch"
	"dkimrelay/relay/ingest"
	"dkimrelay/relay/metrics"
	"dkimrelay/relay/pacing"
	"dkimrelay/relay/pgdedup"
	"dkimrelay/relay/pgpauses"
	"dkimrelay/relay/queue"
	"dkimrelay/relay/submission"
	"dkimrelay/relay/suppress"
	"dkimrelay/reports"
	"dkimrelay/reports/imapfetch"
	"dkimrelay/resolver"
	"dkimrelay/suppressions"
	"dkimrelay/tlsrpt"
	"dkimrelay/tlsrpt/pgtlsrpt"
	"dkimrelay/users"
)

// Relay is a running relay.
type Relay struct {
	cfg *config.Config
	log *slog.Logger

	lock     *atomicfile.Lock
	queue    *queue.Queue // the files' queue; nil with cluster.postgres
	store    queue.Store  // the queue in use: queue, or the cluster's
	db       *cluster.DB  // cluster.postgres; nil without
	mirror   *cluster.Mirror
	events   *cluster.EventLog // message events into the database; nil without a cluster
	pace     *pacing.Gate      // provider pacing; nil in outbox mode
	keys     *keys.Store
	resolver *resolver.Resolver
	deliver  *delivery.Deliverer
	ingest   *ingest.Ingest
	dispatch *dispatch.Dispatcher
	dups     *dedup.Index // nil when submission.duplicate_window is 0 or with a cluster
	smtp     *submission.Server
	ctl      *control.Server
	obs      *observer // metrics.listen; nil when off (observe.go)
	reports  *reports.Overview
	fetcher  *imapfetch.Fetcher // [reports.imap]; nil when off (reports.go)
	tlsrpt   tlsrpt.Counts      // [tlsrpt]; nil when off (tlsreports.go)

	// current is the logins and keys in force, swapped whole on reload
	// (under reloading) so that no reader sees half of a reload.
	current   atomic.Pointer[submission.Snapshot]
	reloading sync.Mutex
	// keyMetrics is what the key-age gauge reports, taken at each reload
	// so that a scrape of /metrics never reads or parses a private key.
	keyMetrics atomic.Pointer[[]metrics.Key]
}

// ErrRunning is returned by New when another relay uses the same data dir.
var ErrRunning = errors.New("another dkimrelay is already running on this data dir")

// New opens everything the relay needs, without accepting mail yet. Any
// problem that would make the relay lose or misroute mail stops it here.
func New(cfg *config.Config, log *slog.Logger) (*Relay, error) {
	r := &Relay{cfg: cfg}
	log = r.observeLog(log) // the events also feed the metrics (observe.go)
	if cfg.Cluster.Enabled() {
		// The message events also go to the cluster's table (store.go).
		r.events = cluster.NewEventLog(cfg.Cluster.Node)
		log = slog.New(r.events.Handler(log.Handler()))
	}
	r.log = log
	ok := false
	defer func() {
		if !ok {
			r.closeStores()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if st, err := os.Stat(cfg.DataDir); err == nil && st.Mode().Perm()&0o077 != 0 {
		// Its files are 0600 and its folders 0700 each, but the names of
		// queued messages and keys need not be anyone else's business.
		events.OpenDataDir{Dir: cfg.DataDir, Mode: st.Mode()}.Log(log)
	}
	if os.Geteuid() == 0 {
		log.Warn(events.RunningAsRoot, events.DetailKey, "dkimrelay should run as its own user; see the README for the systemd unit that binds ports 465 and 587 without root")
	}
	l, err := atomicfile.TryLock(filepath.Join(cfg.DataDir, "serve.lock"))
	if errors.Is(err, atomicfile.ErrLocked) {
		return nil, fmt.Errorf("%w (%s): stop it first, or give this one its own data_dir", ErrRunning, cfg.DataDir)
	}
	if err != nil {
		return nil, err
	}
	r.lock = l

	if err := r.openCluster(); err != nil {
		return nil, err
	}
	if r.keys, err = keys.Open(cfg.KeysDir()); err != nil {
		return nil, err
	}
	if err := r.reload(); err != nil {
		return nil, err
	}
	if r.resolver, err = resolver.FromConfig(cfg.DNS); err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	checks, err := authcheck.NewSenderPolicy(authcheck.SenderOptions{
		Policy:    cfg.Delivery.SPFPolicy,
		EgressIPs: cfg.Delivery.EgressIPs,
		Mode:      cfg.Delivery.Mode,
		Hostname:  cfg.Hostname,
		Resolver:  r.resolver,
		Log:       log,
	})
	if err != nil {
		return nil, err
	}
	if cfg.TLSRPT.Enabled && r.db != nil {
		// The relays add up their counts; one sends the cluster's
		// reports each day (docs/cluster.md).
		r.tlsrpt = pgtlsrpt.New(r.db)
	} else if cfg.TLSRPT.Enabled {
		if r.tlsrpt, err = tlsrpt.Open(filepath.Join(cfg.DataDir, "tlsrpt"), nil); err != nil {
			return nil, err
		}
	}
	if r.deliver, err = newDeliverer(cfg, r.resolver, r.tlsrpt, log); err != nil {
		return nil, err
	}
	if err := r.openQueue(); err != nil {
		return nil, err
	}
	r.ingest = ingest.New(r.store, log)
	supps, err := suppressions.OpenFile(cfg.SuppressionsFile())
	if err != nil {
		return nil, err
	}
	r.pace = newPacing(cfg, r.resolver, log)
	if r.pace != nil && r.db != nil {
		// A provider that throttles one relay is paused for all.
		r.pace.Pacer.SharePauses(pgpauses.New(r.db.Pool, cfg.Cluster.Node))
	}
	if r.dispatch, err = dispatch.New(dispatch.Config{
		Delivery: cfg.Delivery,
		Suppress: suppress.New(r.sharedSuppressions(supps), cfg.Delivery.SuppressAfterBounce, log),
		Pace:     r.pace,
		Queue:    r.store,
		Deliver:  r.deliver,
		Hostname: cfg.Hostname,
		Enqueue:  r.enqueueBounce,
		Logger:   log,
	}); err != nil {
		return nil, err
	}
	if w := cfg.Submission.DuplicateWindow; w > 0 && r.db != nil {
		// A copy submitted again to another relay of the cluster is
		// recognised too (docs/cluster.md).
		r.ingest.SetDuplicates(pgdedup.New(r.db.Pool, cfg.Cluster.Node, w))
	} else if w > 0 {
		if r.dups, err = dedup.Open(filepath.Join(cfg.DataDir, "duplicates"), w); err != nil {
			return nil, err
		}
		r.ingest.SetDuplicates(r.dups)
	}
	certs, err := submission.LoadCertificates(cfg.Submission.TLSCert, cfg.Submission.TLSKey, func(err error) {
		log.Error(events.TLSReload, events.ErrorKey, err.Error())
	})
	if err != nil {
		return nil, err
	}
	r.smtp = submission.New(submission.Config{
		Submission: cfg.Submission,
		Hostname:   cfg.Hostname,
		TLS:        certs.TLSConfig(),
		// Only mx mode connects to a recipient's address; a smarthost
		// (or the outbox) takes every recipient.
		RefuseInternalLiterals: cfg.Delivery.Mode == config.ModeMX && !cfg.Delivery.AllowInternal,
	}, submission.Backend{Snapshot: r.current.Load, Checks: checks, Ingest: r.ingest}, log)
	r.ctl = control.NewServer(cfg.ControlSocket(), log)
	r.registerControl()
	if err := r.openReports(); err != nil {
		return nil, err
	}
	ok = true
	return r, nil
}

func newDeliverer(cfg *config.Config, res *resolver.Resolver, reports tlsrpt.Counts, log *slog.Logger) (*delivery.Deliverer, error) {
	dc := delivery.Config{
		Delivery:     cfg.Delivery,
		Hostname:     cfg.Hostname,
		OutboxConfig: cfg.Path,
		Resolver:     res,
		Logger:       log,
	}
	if cfg.Delivery.SmarthostPasswordFile != "" {
		pw, err := secretfile.ReadPassword(cfg.Delivery.SmarthostPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("delivery.smarthost_password_file: %w", err)
		}
		dc.SmarthostPassword = pw
	}
	roots, err := tlsroots.Load(cfg.Delivery.TLSCAFile)
	if err != nil {
		return nil, err
	}
	dc.RootCAs = roots
	if reports != nil {
		dc.TLSReporter = reports
	}
	if cfg.Delivery.Mode == config.ModeMX && cfg.Delivery.DANE {
		dc.DANEResolver = res
	}
	if cfg.Delivery.Mode == config.ModeMX && cfg.Delivery.MTASTS {
		dc.STSPolicies, err = mtasts.New(mtasts.Options{
			Dir:      filepath.Join(cfg.DataDir, "mta-sts"),
			Resolver: res,
			RootCAs:  roots,
			Port:     cfg.Delivery.MTASTSPort,
			Logger:   log,
		})
		if err != nil {
			return nil, err
		}
	}
	return delivery.New(dc)
}

// Run accepts and delivers mail until ctx ends, then drains: it stops
// accepting and starting delivery attempts, lets open sessions finish (up
// to drainTimeout) and the attempts in flight (up to
// delivery.shutdown_timeout, then they are cut and their recipients stay
// queued, deferred). Every acknowledged message is on disk throughout.
func (r *Relay) Run(ctx context.Context) error {
	defer r.closeStores()
	if err := r.smtp.Listen(); err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	if err := r.ctl.Listen(); err != nil {
		r.smtp.Close()
		return err
	}
	go r.ctl.Serve()
	defer r.ctl.Close()
	if err := r.startObserve(ctx); err != nil {
		r.smtp.Close()
		return err
	}
	defer r.stopObserve()
	defer r.startReports()()
	defer r.startTLSReports()()
	defer r.watchCluster()()
	addrs := []string{}
	for _, a := range r.smtp.Addrs() {
		addrs = append(addrs, a.String())
	}
	// The queue may still be loading: its queue_loaded event gives the
	// number of messages found.
	events.Start{Listen: addrs, Hostname: r.cfg.Hostname, Mode: string(r.cfg.Delivery.Mode)}.Log(r.log)

	wctx, stopWorkers := context.WithCancel(context.Background())
	defer stopWorkers()
	workersDone := make(chan struct{})
	go func() {
		defer close(workersDone)
		r.dispatch.Run(wctx)
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- r.smtp.Serve() }()

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	r.log.Info(events.Stopping)
	// No delivery attempt starts from here; those in flight have
	// delivery.shutdown_timeout (dispatch), while open sessions finish.
	stopWorkers()
	sctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	r.smtp.Shutdown(sctx)
	cancel()
	<-workersDone
	// QUIT the outbound sessions kept for reuse, rather than let the
	// remote servers see them drop.
	r.deliver.Close()
	r.log.Info(events.Stopped)
	return err
}

// drainTimeout bounds how long a shutdown waits for open sessions.
const drainTimeout = 30 * time.Second

func (r *Relay) closeStores() {
	if r.store != nil {
		r.store.Close()
	}
	if r.db != nil {
		r.db.Close()
	}
	if r.dups != nil {
		r.dups.Close()
	}
	if r.lock != nil {
		r.lock.Unlock()
	}
}

// Reload re-reads logins and keys. A problem keeps the previous ones in
// force and is returned (and logged), so a typo never stops mail.
func (r *Relay) Reload() error {
	err := r.reload()
	events.ReloadResult{Err: err}.Log(r.log)
	return err
}

// reload reads logins and keys and puts them in force together. Logins
// that do not load keep the previous ones (none at startup, which is then
// refused by the error).
func (r *Relay) reload() error {
	r.reloading.Lock()
	defer r.reloading.Unlock()
	next := submission.Snapshot{}
	if prev := r.current.Load(); prev != nil {
		next = *prev
	}
	db, usersErr := users.Load(r.cfg.UsersFile())
	if usersErr == nil {
		next.Users = db
	}
	next.Keys = r.loadKeys()
	r.current.Store(&next)
	return usersErr
}

// loadKeys reads the key store. A damaged key is logged and skipped: the
// sound ones keep signing.
func (r *Relay) loadKeys() *ingest.Keyring {
	sn, errs := r.keys.Snapshot()
	for _, e := range errs {
		events.KeyDamage{Err: e}.Log(r.log)
	}
	r.keyMetrics.Store(keyGaugeOf(sn))
	if r.obs != nil {
		r.obs.page.keys.SetKeys(sn.Keys())
	}
	domains := make([]string, len(r.cfg.Domains))
	for i, d := range r.cfg.Domains {
		domains[i] = d.Name
		if !sn.HasActive(d.Name) {
			events.MissingKey{Domain: d.Name}.Log(r.log)
		}
	}
	return ingest.NewKeyring(sn, domains)
}
