package pgqueue

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"dkimrelay/events"
	"dkimrelay/relay/queue"
)

// Next hands out a message committed here for a waiting worker
// (handoff.go), or leases one with a recipient due; it is in flight, here
// and for every relay, until Record. It waits while nothing
// is due, and while the database is unreachable (logging it once a
// minute), until ctx ends (ctx.Err()) or the store is closed
// (queue.ErrClosed).
//
// The waiting workers do not all ask the database: a message queued or
// rescheduled here wakes one of them, which wakes the next once it has
// leased a message (there may be more), and while nothing is due one
// worker of the relay looks every pollInterval for what the other relays
// queued.
func (s *Store) Next(ctx context.Context) (*queue.Message, error) {
	var lastLog time.Time
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, queue.ErrClosed
		}
		if m := s.popReadyLocked(); m != nil {
			more := len(s.ready) > 0
			s.mu.Unlock()
			if more {
				s.kick()
			}
			return m, nil
		}
		now := s.now()
		poll := !now.Before(s.idle)
		if poll {
			s.idle = now.Add(pollInterval) // this worker looks; the others wait
		}
		wait := s.idle.Sub(now)
		s.mu.Unlock()
		if poll {
			m, err := s.take(ctx)
			switch {
			case err == nil && m != nil:
				s.notify() // there may be more: the next worker looks
				return m, nil
			case err != nil && ctx.Err() == nil:
				if time.Since(lastLog) > time.Minute {
					lastLog = time.Now()
					events.QueueFailure{Err: err, Detail: "delivery waits for the database to answer"}.Log(s.log)
				}
			}
		}
		t := time.NewTimer(max(wait, time.Millisecond))
		s.mu.Lock()
		s.waiting++
		s.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-s.done:
		case <-s.wake:
		case <-t.C:
		}
		t.Stop()
		s.mu.Lock()
		s.waiting--
		s.mu.Unlock()
	}
}

// take leases the message due first, if any.
func (s *Store) take(ctx context.Context) (*queue.Message, error) {
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.end()
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	now := s.now()
	token := newToken()
	m := &queue.Message{}
	var sigs, addrs, states, replies []string
	var attempts []int32
	var nexts []*time.Time
	// The lease and the recipients in one round trip. The lease is
	// committed without waiting for the disk (asynchronous commit): a
	// database crash that loses it at worst lets another relay deliver the
	// message too, which at-least-once delivery allows.
	b := &pgx.Batch{}
	b.Queue(asyncCommit)
	b.Queue(`
		WITH picked AS (
			SELECT id FROM queue_messages
			WHERE due_at <= $1 AND (lease_until IS NULL OR lease_until < $1)
			ORDER BY class = 'bulk', due_at
			LIMIT 1
			FOR UPDATE SKIP LOCKED)
		UPDATE queue_messages q SET lease_owner = $2, lease_token = $3, lease_until = $4
		FROM picked WHERE q.id = picked.id
		RETURNING q.id, q.sender, q.login, q.received, q.size, q.signatures, q.class, q.require_tls, q.tls_optional,
			ARRAY(SELECT addr FROM queue_recipients WHERE message_id = q.id ORDER BY pos),
			ARRAY(SELECT state FROM queue_recipients WHERE message_id = q.id ORDER BY pos),
			ARRAY(SELECT attempts FROM queue_recipients WHERE message_id = q.id ORDER BY pos),
			ARRAY(SELECT next_attempt FROM queue_recipients WHERE message_id = q.id ORDER BY pos),
			ARRAY(SELECT last_reply FROM queue_recipients WHERE message_id = q.id ORDER BY pos)`,
		now, s.node, token, now.Add(s.lease))
	br := s.pool.SendBatch(octx, b)
	_, err := br.Exec()
	if err == nil {
		err = br.QueryRow().Scan(
			&m.ID, &m.Envelope.From, &m.Envelope.User, &m.Envelope.Received, &m.Size, &sigs, &m.Envelope.Class,
			&m.Envelope.RequireTLS, &m.Envelope.TLSOptional, &addrs, &states, &attempts, &nexts, &replies)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, dbError("leasing a due message", err)
	}
	if len(sigs) > 0 {
		m.Envelope.Signatures = sigs
	}
	for i, a := range addrs {
		r := &queue.Recipient{Addr: a, Attempts: int(attempts[i]), LastReply: replies[i]}
		if err := r.State.UnmarshalText([]byte(states[i])); err != nil {
			return nil, err
		}
		if nexts[i] != nil {
			r.NextAttempt = *nexts[i]
		}
		m.Rcpts = append(m.Rcpts, r)
		m.Envelope.Rcpts = append(m.Envelope.Rcpts, a)
	}
	s.mu.Lock()
	s.inFlight[m.ID] = token
	s.mu.Unlock()
	return m, nil
}

// loadRcpts reads m's recipients, in RCPT TO order.
func (s *Store) loadRcpts(ctx context.Context, m *queue.Message) error {
	rows, err := s.pool.Query(ctx, `SELECT addr, state, attempts, next_attempt, last_reply
		FROM queue_recipients WHERE message_id = $1 ORDER BY pos`, m.ID)
	if err != nil {
		return dbError("reading recipients", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRcpt(rows)
		if err != nil {
			return err
		}
		m.Rcpts = append(m.Rcpts, r)
		m.Envelope.Rcpts = append(m.Envelope.Rcpts, r.Addr)
	}
	if err := rows.Err(); err != nil {
		return dbError("reading recipients", err)
	}
	return nil
}

func scanRcpt(row pgx.Row, dest ...any) (*queue.Recipient, error) {
	r := &queue.Recipient{}
	var state string
	var next *time.Time
	if err := row.Scan(append(dest, &r.Addr, &state, &r.Attempts, &next, &r.LastReply)...); err != nil {
		return nil, dbError("reading recipients", err)
	}
	if err := r.State.UnmarshalText([]byte(state)); err != nil {
		return nil, err
	}
	if next != nil {
		r.NextAttempt = *next
	}
	return r, nil
}

// release forgets a lease this relay held; its row keeps the lease until
// it is written or expires.
func (s *Store) release(id string) {
	s.mu.Lock()
	delete(s.inFlight, id)
	delete(s.postponed, id)
	delete(s.bodies, id)
	s.mu.Unlock()
}
