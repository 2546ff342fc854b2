// Package pgqueue is the queue in PostgreSQL that several relays share
// (config cluster.postgres, docs/cluster.md): a queue.Store, like the
// files in data_dir, with the same promises.
//
// A message is a row of queue_messages (envelope, signatures, the
// earliest next attempt), one row per recipient in queue_recipients and
// its bytes in 256 KiB rows of queue_chunks, so that memory stays flat
// whatever the message's size; a message that fits in one chunk keeps its
// bytes in its own row instead (body). Spool.Commit inserts the last chunk, the
// envelope and the recipients in the transaction that holds the earlier
// chunks and commits it (synchronous commit) before it returns: only then
// does the relay answer 250.
//
// # Leases
//
// Next leases a due message with SELECT ... FOR UPDATE SKIP LOCKED: the
// row gets this relay's name, a token and an expiry (Options.Lease, a
// minute by default), and no other relay takes it while the lease runs.
// The relay renews the leases of its attempts in flight every third of
// the lease; Record writes the outcome only under the same token. A relay
// that dies stops renewing: once its leases expire another relay takes
// the messages and delivers them (at-least-once, as with the files).
package pgqueue

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"dkimrelay/config"
	"dkimrelay/events"
	"dkimrelay/relay/queue"
)

// DefaultLease is Options.Lease's default.
const DefaultLease = time.Minute

// pollInterval is how often an idle relay looks for messages that other
// relays queued or released.
const pollInterval = time.Second

// opTimeout bounds one database operation, so that a database that stops
// answering turns into errors (451 for a submission) instead of a hang.
const opTimeout = 30 * time.Second

// Options configure a Store. Pool, Node and Delivery are required.
type Options struct {
	Pool *pgxpool.Pool
	// Node names this relay in the leases it takes.
	Node string
	// Delivery schedules the retries, as for the files' queue.
	Delivery config.Delivery
	// Lease is how long a message stays leased without a renewal: how
	// long a dead relay's messages wait for another. Default DefaultLease.
	Lease  time.Duration
	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now
}

// Store is the PostgreSQL queue. Its methods are safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	node   string
	policy queue.Policy
	lease  time.Duration
	log    *slog.Logger
	now    func() time.Time

	stop    context.CancelFunc
	renewer sync.WaitGroup

	mu       sync.Mutex
	inFlight map[string]int64 // lease tokens by message ID
	// postponed are the recipients of messages in flight held back by
	// pacing, written by Record.
	postponed map[string][]postponement
	// ready are the messages committed here and leased at once for the
	// workers waiting (handoff.go), bodies the bytes of those kept in
	// memory; promised counts the commits under way that will add one.
	ready    []*queue.Message
	bodies   map[string][]byte
	waiting  int // workers waiting in Next
	promised int
	wake     chan struct{} // one waiting Next looks now (buffered: 1)
	done     chan struct{} // closed by Close
	idle     time.Time     // the next look for due messages, unless woken
	closed   bool
	ops      sync.WaitGroup
}

var _ queue.Store = (*Store)(nil)

// Open returns the store; the schema must be migrated (cluster.Open).
func Open(opts Options) (*Store, error) {
	if opts.Pool == nil || opts.Node == "" {
		return nil, errors.New("pgqueue: no database pool or node name given")
	}
	if d := opts.Delivery; d.RetryMin <= 0 || d.RetryMax < d.RetryMin || d.MaxLifetime <= 0 {
		return nil, errors.New("pgqueue: no schedule given: pass the loaded config's [delivery] section")
	}
	s := &Store{
		pool:      opts.Pool,
		node:      opts.Node,
		policy:    queue.Policy{MinRetry: opts.Delivery.RetryMin, MaxRetry: opts.Delivery.RetryMax, MaxLifetime: opts.Delivery.MaxLifetime},
		lease:     opts.Lease,
		log:       opts.Logger,
		now:       opts.Now,
		inFlight:  make(map[string]int64),
		postponed: make(map[string][]postponement),
		bodies:    make(map[string][]byte),
		wake:      make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
	if s.lease <= 0 {
		s.lease = DefaultLease
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.renewer.Go(func() { s.renew(ctx) })
	return s, nil
}

// WaitLoaded returns at once: nothing is loaded, the queue is the
// database.
func (s *Store) WaitLoaded(context.Context) error { return nil }

// Close stops Next, waits for the operations in progress, gives up the
// leases of the messages handed off that no worker took and stops the
// lease renewals. Messages in flight keep their leases until they expire,
// then another relay (or this one, restarted) takes them. The pool is the
// caller's to close.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	s.ops.Wait()
	s.releaseReady()
	s.stop()
	s.renewer.Wait()
	return nil
}

// begin registers an operation that Close waits for.
func (s *Store) begin() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return queue.ErrClosed
	}
	s.ops.Add(1)
	return nil
}

func (s *Store) end() { s.ops.Done() }

// notify says a message was queued, rescheduled or made due here: the
// next Next looks at once, and one waiting Next wakes.
func (s *Store) notify() {
	s.mu.Lock()
	s.idle = time.Time{}
	s.mu.Unlock()
	s.kick()
}

// kick wakes one waiting Next, if none is woken already.
func (s *Store) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// renew extends the leases of the messages in flight every third of the
// lease, until ctx ends.
func (s *Store) renew(ctx context.Context) {
	t := time.NewTicker(s.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		tokens := make([]int64, 0, len(s.inFlight))
		for _, tok := range s.inFlight {
			tokens = append(tokens, tok)
		}
		s.mu.Unlock()
		if len(tokens) == 0 {
			continue
		}
		octx, cancel := context.WithTimeout(ctx, s.lease/3)
		_, err := s.pool.Exec(octx, `UPDATE queue_messages SET lease_until = $1
			WHERE lease_owner = $2 AND lease_token = ANY($3)`, s.now().Add(s.lease), s.node, tokens)
		cancel()
		if err != nil && ctx.Err() == nil {
			s.log.Warn(events.QueueLeaseLost, events.ErrorKey, err.Error(),
				events.DetailKey, "messages in delivery may be taken over by another relay and delivered twice; check the database")
		}
	}
}

func newToken() int64 {
	var b [8]byte
	rand.Read(b[:])
	return int64(binary.BigEndian.Uint64(b[:]) >> 1)
}

// dbError wraps a database error with what was being done.
func dbError(what string, err error) error {
	return fmt.Errorf("queue: %s in the database: %w", what, err)
}

func opContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), opTimeout)
}
