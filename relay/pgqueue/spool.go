package pgqueue

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"dkimrelay/relay/dedup"
	"dkimrelay/relay/queue"
)

// chunkSize is the size of one row of queue_chunks, and of the buffer a
// spool holds: memory per message stays at this, whatever its size.
const chunkSize = 256 << 10

// spool is a message being received. Its first chunks go to the database
// in a transaction opened when the first chunk is full (a message smaller
// than a chunk costs one transaction, at Commit); the transaction rolls
// back if the relay dies before the commit, so nothing half-written
// stays.
type spool struct {
	s    *Store
	id   string
	buf  []byte
	seq  int32
	size int64
	tx   pgx.Tx
	err  error
	done bool
	// claim is the statement that ends the duplicate window's claim on
	// the message, run in the commit's transaction (JoinClaim).
	claim *claimStatement
}

type claimStatement struct {
	sql  string
	args []any
}

// statementClaim is a claim of the duplicate window in the database
// (pgdedup's) that gives the statement that ends it.
type statementClaim interface {
	DoneStatement(pool *pgxpool.Pool, qid string) (sql string, args []any, ok bool)
}

// JoinClaim takes over c, a claim of the duplicate window on this
// message, when it lives in the same database: the commit then records
// the message against it in the same transaction, one round trip fewer.
// It reports whether it did; if so, c is ended by a successful commit and
// only a failed one leaves it to the caller.
func (sp *spool) JoinClaim(c dedup.Claim) bool {
	sc, ok := c.(statementClaim)
	if !ok || sp.done {
		return false
	}
	sql, args, ok := sc.DoneStatement(sp.s.pool, sp.id)
	if ok {
		sp.claim = &claimStatement{sql: sql, args: args}
	}
	return ok
}

// NewSpool picks a queue ID; nothing reaches the database until a chunk
// is full or Commit.
func (s *Store) NewSpool() (queue.Spool, error) {
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.end()
	id, err := queue.NewID(s.now())
	if err != nil {
		return nil, fmt.Errorf("queue: picking a queue ID: %w", err)
	}
	buf := spoolBuffers.Get().(*[]byte)
	return &spool{s: s, id: id, buf: (*buf)[:0]}, nil
}

func (sp *spool) ID() string { return sp.id }

// Write buffers p and sends every full chunk. An error is sticky.
func (sp *spool) Write(p []byte) (int, error) {
	if sp.err != nil {
		return 0, sp.err
	}
	if sp.done {
		return 0, errors.New("queue: write to a message already committed or aborted")
	}
	n := 0
	for len(p) > 0 {
		k := copy(sp.buf[len(sp.buf):cap(sp.buf)], p)
		sp.buf = sp.buf[:len(sp.buf)+k]
		p = p[k:]
		n += k
		sp.size += int64(k)
		if len(sp.buf) == cap(sp.buf) {
			if err := sp.flush(); err != nil {
				sp.err = err
				return n, err
			}
		}
	}
	return n, nil
}

// flush sends the buffer as the next chunk, in the spool's transaction.
func (sp *spool) flush() error {
	ctx, cancel := opContext()
	defer cancel()
	if sp.tx == nil {
		tx, err := sp.s.pool.Begin(ctx)
		if err != nil {
			return dbError("storing the message", err)
		}
		sp.tx = tx
	}
	if _, err := sp.tx.Exec(ctx, "INSERT INTO queue_chunks (message_id, seq, data) VALUES ($1, $2, $3)", sp.id, sp.seq, sp.buf); err != nil {
		return dbError("storing the message", err)
	}
	sp.seq++
	sp.buf = sp.buf[:0]
	return nil
}

// Commit inserts the last chunk, the envelope and the recipients and
// commits: when it returns nil the message is in the database for good
// (synchronous commit) and may be acknowledged.
func (sp *spool) Commit(env queue.Envelope) error { return sp.CommitThen(env, nil) }

// CommitThen is Commit, calling durable (when not nil) after the commit
// and before this relay's workers are told of the message. Another relay
// polling the database may take it a moment earlier.
func (sp *spool) CommitThen(env queue.Envelope, durable func()) (err error) {
	if sp.done {
		return errors.New("queue: commit of a message already committed or aborted")
	}
	defer func() {
		if err != nil {
			sp.Abort()
		}
	}()
	if sp.err != nil {
		return sp.err
	}
	s := sp.s
	if err := s.begin(); err != nil {
		return err
	}
	defer s.end()
	m, err := queue.NewMessage(sp.id, env, sp.size, s.now())
	if err != nil {
		return err
	}
	ctx, cancel := opContext()
	defer cancel()
	rcpts := make([]string, len(m.Rcpts))
	for i, r := range m.Rcpts {
		rcpts[i] = r.Addr
	}
	// With a worker of this relay waiting, the message is leased to it
	// in the same transaction (handoff.go).
	handOff := s.promise(m)
	var owner, token, until any
	if handOff {
		owner, token, until = s.node, newToken(), s.now().Add(s.lease)
	}
	b := &pgx.Batch{}
	// A message in one chunk goes in its own row (body); a larger one's
	// last chunk joins the others in queue_chunks.
	var inline []byte
	if sp.seq == 0 {
		inline = sp.buf
	} else if len(sp.buf) > 0 {
		b.Queue("INSERT INTO queue_chunks (message_id, seq, data) VALUES ($1, $2, $3)", sp.id, sp.seq, sp.buf)
	}
	b.Queue(`INSERT INTO queue_messages (id, sender, login, received, size, signatures, accepted_by, due_at, class,
			require_tls, tls_optional, lease_owner, lease_token, lease_until, body)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $4, $8, $9, $10, $11, $12, $13, $14)`,
		m.ID, m.Envelope.From, m.Envelope.User, m.Envelope.Received, m.Size, nonNil(m.Envelope.Signatures), s.node, m.Envelope.Class,
		m.Envelope.RequireTLS, m.Envelope.TLSOptional, owner, token, until, inline)
	b.Queue(`INSERT INTO queue_recipients (message_id, pos, addr, state, next_attempt)
		SELECT $1, t.pos, t.addr, 'queued', $3 FROM unnest($2::text[]) WITH ORDINALITY AS t(addr, pos)`,
		m.ID, rcpts, m.Envelope.Received)
	if sp.claim != nil {
		b.Queue(sp.claim.sql, sp.claim.args...)
	}
	if err := sp.send(ctx, b); err != nil {
		if handOff {
			s.broken()
		}
		return err
	}
	var body []byte
	if handOff && sp.seq == 0 {
		body = bytes.Clone(sp.buf) // the whole message, in its only chunk
	}
	sp.done = true
	sp.recycle()
	if durable != nil {
		durable()
	}
	if handOff {
		s.handOff(m, token.(int64), body)
	} else {
		s.notify()
	}
	return nil
}

// send runs the batch that ends the message and commits.
func (sp *spool) send(ctx context.Context, b *pgx.Batch) error {
	if sp.tx == nil {
		// The whole message in one round trip: a batch outside a
		// transaction runs as one implicit transaction, committed
		// (synchronously) before the results come back.
		if err := sp.s.pool.SendBatch(ctx, b).Close(); err != nil {
			return dbError("queueing the message", err)
		}
		return nil
	}
	tx := sp.tx
	sp.tx = nil
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		tx.Rollback(ctx)
		return dbError("queueing the message", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return dbError("committing the message", err)
	}
	return nil
}

// recycle gives the chunk buffer back for another spool.
func (sp *spool) recycle() {
	if sp.buf != nil {
		buf := sp.buf[:0]
		sp.buf = nil
		spoolBuffers.Put(&buf)
	}
}

// Abort rolls the spool's transaction back; it does nothing after a
// successful Commit.
func (sp *spool) Abort() {
	if sp.done {
		return
	}
	sp.done = true
	sp.recycle()
	if sp.tx != nil {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		sp.tx.Rollback(ctx)
		cancel()
		sp.tx = nil
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
