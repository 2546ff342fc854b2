package queue

import (
	"context"
	"io"
	"time"

	"dkimrelay/relay/outcome"
)

// Store is a durable queue as the rest of the relay uses it: ingest
// spools into it, dispatch takes due messages from it and records their
// outcomes, the queue commands inspect and change it. *Queue, the files in
// data_dir, is one; the PostgreSQL store that several relays share
// (package relay/pgqueue, docs/cluster.md) is the other. Every
// implementation keeps the promises of the package documentation:
// Spool.Commit returns nil only once the message and its envelope are
// durable, Next hands a message to one caller at a time, and delivery is
// at-least-once.
type Store interface {
	// NewSpool starts receiving a message.
	NewSpool() (Spool, error)
	// Next waits for a message with a recipient due and hands it out
	// until Record (see Queue.Next).
	Next(ctx context.Context) (*Message, error)
	// Record records an attempt's outcomes (see Queue.Record).
	Record(m *Message, outcomes []outcome.Outcome, steps Steps) ([]Change, error)
	// Open is what goes on the wire after DATA: the signatures, then the
	// stored message.
	Open(m *Message) (io.ReadCloser, error)
	// OpenRaw is the stored message alone, for a bounce to quote.
	OpenRaw(id string) (io.ReadCloser, error)
	// Get returns a snapshot of one message, or ErrNotFound.
	Get(id string) (*Message, error)
	// Walk calls fn with every queued message, oldest first.
	Walk(fn func(*Message) error) error
	// Retry makes the pending recipients of message id due now.
	Retry(id string) error
	// RetryAll makes every pending recipient due now and returns the
	// number of messages concerned.
	RetryAll() (int, error)
	// Delete removes a message without a bounce.
	Delete(id string) error
	// Stats returns the number of queued messages and the arrival of the
	// oldest.
	Stats() (n int, oldest time.Time)
	// WaitLoaded returns once the messages queued before the start are
	// loaded.
	WaitLoaded(ctx context.Context) error
	// Close stops the store; see Queue.Close.
	Close() error
}

// Spool is a message being received: Write streams its bytes to the
// store, Commit makes it durable and queued, Abort throws it away (and
// does nothing after a successful Commit). *Draft is the files' Spool.
type Spool interface {
	io.Writer
	// ID is the message's queue ID, the QID of the 250 reply.
	ID() string
	// Commit queues the message with envelope env; when it returns nil
	// the message is durable and may be acknowledged.
	Commit(env Envelope) error
	// CommitThen is Commit, with durable (when not nil) called once the
	// message is durable and before a delivery worker of this relay can
	// take it: its `accepted` event is then logged before any delivery
	// event of the message.
	CommitThen(env Envelope, durable func()) error
	Abort()
}

// NewSpool is NewDraft as the Store interface has it.
func (q *Queue) NewSpool() (Spool, error) {
	d, err := q.NewDraft()
	if err != nil {
		return nil, err
	}
	return d, nil
}

var _ Store = (*Queue)(nil)

// NewID returns a fresh queue ID (see the files' IDs): a millisecond
// timestamp and 48 random bits, unique across relays in practice; a
// store checks it is unused as it commits.
func NewID(now time.Time) (string, error) { return newID(now) }

// NewMessage checks the envelope of a message being committed as the
// files' records are checked (addresses without control characters,
// well-formed signatures, at least one recipient, each once) and returns
// the queued message: every recipient queued and due at once.
func NewMessage(id string, env Envelope, size int64, now time.Time) (*Message, error) {
	r, err := newRecord(id, env, size, now)
	if err != nil {
		return nil, err
	}
	return r.message(), nil
}
