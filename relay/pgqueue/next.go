package pgqueue

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"dkimrelay/events"
	"dkimrelay/relay/queue"
)

// Next leases a message with a recipient due and hands it out; it is in
// flight, here and for every relay, until Record. It waits while nothing
// is due, and while the database is unreachable (logging it once a
// minute), until ctx ends (ctx.Err()) or the store is closed
// (queue.ErrClosed).
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
		changed := s.changed
		wait := s.idle.Sub(s.now())
		s.mu.Unlock()
		if wait <= 0 {
			m, next, err := s.take(ctx)
			switch {
			case err == nil && m != nil:
				return m, nil
			case err != nil && ctx.Err() == nil:
				if time.Since(lastLog) > time.Minute {
					lastLog = time.Now()
					events.QueueFailure{Err: err, Detail: "delivery waits for the database to answer"}.Log(s.log)
				}
				wait = pollInterval
			case err == nil:
				wait = min(next, pollInterval)
				s.mu.Lock()
				if s.changed == changed {
					s.idle = s.now().Add(wait)
				}
				s.mu.Unlock()
			}
		}
		t := time.NewTimer(max(wait, time.Millisecond))
		select {
		case <-ctx.Done():
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// take leases the message due first, if any; otherwise it says how long
// until the next one is due (at most pollInterval: other relays queue
// messages too).
func (s *Store) take(ctx context.Context) (*queue.Message, time.Duration, error) {
	if err := s.begin(); err != nil {
		return nil, 0, err
	}
	defer s.end()
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	now := s.now()
	token := newToken()
	m := &queue.Message{}
	var sigs []string
	err := s.pool.QueryRow(octx, `
		WITH picked AS (
			SELECT id FROM queue_messages
			WHERE due_at <= $1 AND (lease_until IS NULL OR lease_until < $1)
			ORDER BY class = 'bulk', due_at
			LIMIT 1
			FOR UPDATE SKIP LOCKED)
		UPDATE queue_messages q SET lease_owner = $2, lease_token = $3, lease_until = $4
		FROM picked WHERE q.id = picked.id
		RETURNING q.id, q.sender, q.login, q.received, q.size, q.signatures, q.class`,
		now, s.node, token, now.Add(s.lease)).Scan(
		&m.ID, &m.Envelope.From, &m.Envelope.User, &m.Envelope.Received, &m.Size, &sigs, &m.Envelope.Class)
	if errors.Is(err, pgx.ErrNoRows) {
		var next *time.Time
		err := s.pool.QueryRow(octx, `SELECT min(greatest(due_at, coalesce(lease_until, due_at))) FROM queue_messages`).Scan(&next)
		if err != nil {
			return nil, 0, dbError("looking for due messages", err)
		}
		if next == nil {
			return nil, pollInterval, nil
		}
		return nil, next.Sub(now), nil
	}
	if err != nil {
		return nil, 0, dbError("leasing a due message", err)
	}
	if len(sigs) > 0 {
		m.Envelope.Signatures = sigs
	}
	s.mu.Lock()
	s.inFlight[m.ID] = token
	s.mu.Unlock()
	if err := s.loadRcpts(octx, m); err != nil {
		s.release(m.ID)
		return nil, 0, err
	}
	return m, 0, nil
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
	s.mu.Unlock()
}
