// Package dispatch drives delivery: its workers take due messages from the
// queue, make one delivery attempt each, record the outcomes, queue a
// bounce for the recipients that failed for good and log each recipient's
// new state (delivered, deferred, bounced, expired).
package dispatch

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"dkimrelay/config"
	"dkimrelay/events"
	"dkimrelay/relay/delivery"
	"dkimrelay/relay/outcome"
	"dkimrelay/relay/pacing"
	"dkimrelay/relay/queue"
	"dkimrelay/relay/suppress"
)

// Deliverer makes one delivery attempt; *delivery.Deliverer is one.
type Deliverer interface {
	Deliver(ctx context.Context, m delivery.Message) []outcome.Outcome
}

// Config configures a Dispatcher.
type Config struct {
	// Delivery is the [delivery] section as config loaded it: workers
	// (concurrent attempts) and shutdown_timeout (how long the attempts
	// in flight when Run's context ends may go on before they are cut
	// short).
	config.Delivery

	Queue   queue.Store
	Deliver Deliverer
	// Hostname names the relay in bounces: their Reporting-MTA (RFC 3464
	// section 2.2.2) and their From, MAILER-DAEMON@Hostname.
	Hostname string
	// Enqueue queues a message the relay wrote itself (a bounce, from the
	// null sender) for rcpts; origQID is the message it is about.
	Enqueue func(origQID string, rcpts []string, msg []byte) error
	// Suppress holds back the recipients on the suppression list and
	// learns from each attempt's failures; nil delivers to everyone.
	Suppress *suppress.Guard
	// Pace holds back the recipients whose provider is paused or over
	// its rate (docs/deliverability.md); nil sends at once.
	Pace   *pacing.Gate
	Logger *slog.Logger // nil: discard
}

// ErrShutdown is why an attempt cut short by a shutdown was deferred: the
// reason its recipients' deferred events and queue entries give.
var ErrShutdown = errors.New("the relay is stopping and delivery.shutdown_timeout has passed; the message stays queued")

// Dispatcher runs the delivery workers.
type Dispatcher struct {
	cfg Config
	log *slog.Logger
}

// New returns a Dispatcher; Run starts it.
func New(cfg Config) (*Dispatcher, error) {
	if cfg.Workers < 1 || cfg.ShutdownTimeout <= 0 {
		return nil, errors.New("dispatch: no [delivery] section given (workers, shutdown_timeout): pass the loaded config's")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{cfg: cfg, log: log}, nil
}

// Run attempts due messages with cfg.Workers workers until ctx ends, and
// returns once every worker has stopped. When ctx ends no attempt starts;
// the attempts in flight have ShutdownTimeout to finish, then their
// sessions are cut (the cause is ErrShutdown) and what they had not
// finished is recorded as deferred: it stays queued for the next start.
// So a stop never waits for a stalled server's command timeouts, and
// loses nothing.
func (d *Dispatcher) Run(ctx context.Context) {
	attempts, cut := context.WithCancelCause(context.Background())
	defer cut(nil)
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-stopped:
			return
		case <-ctx.Done():
		}
		t := time.NewTimer(d.cfg.ShutdownTimeout)
		defer t.Stop()
		select {
		case <-stopped:
		case <-t.C:
			cut(ErrShutdown)
		}
	}()
	var wg sync.WaitGroup
	for range d.cfg.Workers {
		wg.Go(func() { d.work(ctx, attempts) })
	}
	wg.Wait()
}

// work takes messages until ctx ends; the attempts run under attempts.
func (d *Dispatcher) work(ctx, attempts context.Context) {
	for {
		m, err := d.cfg.Queue.Next(ctx)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, queue.ErrClosed) {
				events.QueueFailure{Err: err}.Log(d.log)
			}
			return
		}
		d.attempt(attempts, m)
	}
}

// attempt delivers m's due recipients once and records the outcomes,
// queueing the bounce and logging what became of each recipient before
// the new states are written.
func (d *Dispatcher) attempt(ctx context.Context, m *queue.Message) {
	q := d.cfg.Queue
	rcpts, held := m.Due(time.Now()), []outcome.Outcome(nil)
	if g := d.cfg.Suppress; g != nil {
		rcpts, held = g.Hold(m.ID, rcpts)
	}
	var tickets []pacing.Admitted
	if g := d.cfg.Pace; g != nil && len(rcpts) > 0 {
		var deferred []outcome.Outcome
		rcpts, tickets, deferred = d.pace(ctx, g, m, rcpts)
		held = append(held, deferred...)
	}
	var outcomes []outcome.Outcome
	if len(rcpts) > 0 {
		outcomes = d.cfg.Deliver.Deliver(ctx, delivery.Message{
			ID:    m.ID,
			From:  m.Envelope.From,
			Rcpts: rcpts,
			Open:  func() (io.ReadCloser, error) { return q.Open(m) },
			Size:  m.Size,

			RequireTLS:  m.Envelope.RequireTLS,
			TLSOptional: m.Envelope.TLSOptional,
		})
	}
	endTickets(tickets, outcomes)
	if g := d.cfg.Suppress; g != nil {
		g.Learn(m.ID, outcomes)
	}
	outcomes = append(outcomes, held...)
	_, err := q.Record(m, outcomes, queue.Steps{
		Bounce:   func(failed []queue.Change) error { return d.bounce(m, failed) },
		Announce: func(changes []queue.Change) { d.logChanges(m, changes) },
	})
	if err != nil {
		// The new states could not all be recorded: what was not stays
		// as it was and is tried again (at-least-once).
		events.QueueFailure{QID: m.ID, Err: err}.Log(d.log)
	}
}
