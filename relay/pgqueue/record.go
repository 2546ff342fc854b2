package pgqueue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"dkimrelay/relay/outcome"
	"dkimrelay/relay/queue"
)

// ErrLeaseLost: the message's lease ran out during the attempt and
// another relay took it (or it was deleted and queued anew). The outcome
// is not written; the other relay's attempt decides (at-least-once).
var ErrLeaseLost = errors.New("queue: the lease on the message ran out during the attempt (was the database unreachable?); another relay delivers it")

// Record records the outcomes of an attempt on m, which Next leased, as
// queue.Queue.Record does: the new states by the same schedule, the same
// steps (the bounce queued, then the events) before they are written, and
// the message removed once nothing is pending. The write happens only
// while this relay still holds the lease; a message deleted during the
// attempt is left alone.
func (s *Store) Record(m *queue.Message, outcomes []outcome.Outcome, steps queue.Steps) ([]queue.Change, error) {
	s.mu.Lock()
	token, ok := s.inFlight[m.ID]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("queue: Record for message %s, which is not in flight", m.ID)
	}
	defer s.release(m.ID)
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.end()
	now := s.now()
	rcpts := make(map[string]*queue.Recipient, len(m.Rcpts))
	for _, r := range m.Rcpts {
		c := *r
		rcpts[r.Addr] = &c
	}
	find := func(addr string) *queue.Recipient { return rcpts[addr] }
	// Held back by pacing first, as the files' queue does: an outcome for
	// the same recipient (there should be none) decides last.
	held := s.takePostponed(m.ID, rcpts)
	changes := s.policy.Apply(m.Envelope.Received, find, outcomes, now)

	final, bounceErr := steps.Run(changes, func(c *queue.Change) {
		r := rcpts[c.Addr]
		r.State, r.NextAttempt = queue.Deferred, now.Add(s.policy.MinRetry)
		c.Recipient = *r
	})
	// With a bounce queued the new states must be durable, or a crash
	// would bring the message back and bounce it twice; otherwise losing
	// them to a database crash only repeats an attempt.
	deleted, err := s.write(m.ID, token, lastPerRcpt(append(held, changes...)), final, !anyPending(rcpts))
	if deleted {
		return nil, nil
	}
	if dueNow(rcpts, now) {
		s.notify()
	}
	return changes, errors.Join(bounceErr, err)
}

// write stores the changes under the lease and releases it: the message
// is rescheduled at its earliest pending recipient, or removed. deleted
// reports a message no longer in the queue. It is one batch, one round
// trip, run as one implicit transaction: the first statement locks the
// message's row, and every later one acts only while the lease is this
// relay's. A finished message (no recipient pending) is removed without
// its recipients' new states, which would go with it.
func (s *Store) write(id string, token int64, changes []queue.Change, durable, finished bool) (deleted bool, err error) {
	ctx, cancel := opContext()
	defer cancel()
	b := &pgx.Batch{}
	// The first statement locks the message's row and, unless the new
	// states must be durable, sets the transaction to commit without
	// waiting for the disk.
	b.Queue(`SELECT lease_owner IS NOT DISTINCT FROM $2 AND lease_token IS NOT DISTINCT FROM $3,
			set_config('synchronous_commit', CASE WHEN $4 THEN 'on' ELSE 'off' END, true)
		FROM queue_messages WHERE id = $1 FOR UPDATE`, id, s.node, token, durable)
	if finished {
		b.Queue(`DELETE FROM queue_chunks WHERE message_id = $1 AND `+leased, id, s.node, token)
		b.Queue(`DELETE FROM queue_messages WHERE id = $1 AND lease_owner = $2 AND lease_token = $3`, id, s.node, token)
	} else {
		s.queueChanges(b, id, token, changes)
	}
	return s.runWrite(ctx, b)
}

// queueChanges adds to b the statements that write the changes of a
// message with recipients pending, and reschedule it at the earliest.
func (s *Store) queueChanges(b *pgx.Batch, id string, token int64, changes []queue.Change) {
	n := len(changes)
	addrs, states, replies := make([]string, n), make([]string, n), make([]string, n)
	attempts := make([]int32, n)
	nexts := make([]*time.Time, n)
	for i, c := range changes {
		addrs[i], states[i], replies[i], attempts[i] = c.Addr, c.State.String(), c.LastReply, int32(c.Attempts)
		if !c.NextAttempt.IsZero() {
			t := c.NextAttempt
			nexts[i] = &t
		}
	}
	b.Queue(`UPDATE queue_recipients r SET state = t.state, attempts = t.attempts, next_attempt = t.next, last_reply = t.reply
		FROM unnest($4::text[], $5::text[], $6::int[], $7::timestamptz[], $8::text[]) AS t(addr, state, attempts, next, reply)
		WHERE r.message_id = $1 AND r.addr = t.addr AND `+leased, id, s.node, token, addrs, states, attempts, nexts, replies)
	b.Queue(`DELETE FROM queue_chunks WHERE message_id = $1 AND `+leased+` AND NOT `+pending, id, s.node, token)
	b.Queue(`DELETE FROM queue_messages WHERE id = $1 AND lease_owner = $2 AND lease_token = $3 AND NOT `+pending, id, s.node, token)
	b.Queue(`UPDATE queue_messages q SET due_at = d.due, lease_owner = NULL, lease_token = NULL, lease_until = NULL
		FROM (SELECT min(next_attempt) AS due FROM queue_recipients
			WHERE message_id = $1 AND state IN ('queued', 'deferred')) d
		WHERE q.id = $1 AND q.lease_owner = $2 AND q.lease_token = $3 AND d.due IS NOT NULL`, id, s.node, token)
}

// runWrite sends a write's batch: deleted reports a message no longer in
// the queue, ErrLeaseLost one another relay leased meanwhile.
func (s *Store) runWrite(ctx context.Context, b *pgx.Batch) (deleted bool, err error) {
	br := s.pool.SendBatch(ctx, b)
	var mine bool
	var commit string
	err = br.QueryRow().Scan(&mine, &commit)
	if cerr := br.Close(); err == nil || errors.Is(err, pgx.ErrNoRows) {
		if cerr != nil {
			err = cerr
		}
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return true, nil
	case err != nil:
		return false, dbError("recording the attempt", err)
	case !mine:
		return false, ErrLeaseLost
	}
	return false, nil
}

// deleteMessage removes a message, its recipients and its chunks in tx,
// and reports whether it was there.
func deleteMessage(ctx context.Context, tx pgx.Tx, id string) (bool, error) {
	if _, err := tx.Exec(ctx, "DELETE FROM queue_chunks WHERE message_id = $1", id); err != nil {
		return false, dbError("removing the message", err)
	}
	tag, err := tx.Exec(ctx, "DELETE FROM queue_messages WHERE id = $1", id)
	if err != nil {
		return false, dbError("removing the message", err)
	}
	return tag.RowsAffected() > 0, nil
}

// anyPending reports whether a recipient is still to be delivered.
func anyPending(rcpts map[string]*queue.Recipient) bool {
	for _, r := range rcpts {
		if r.State.Pending() {
			return true
		}
	}
	return false
}

// dueNow reports whether a recipient is due again at once: then a worker
// looks for it without waiting for the next poll.
func dueNow(rcpts map[string]*queue.Recipient, now time.Time) bool {
	for _, r := range rcpts {
		if r.State.Pending() && !r.NextAttempt.After(now) {
			return true
		}
	}
	return false
}

// leased and pending are conditions of a write's statements: the message
// ($1) is leased to this relay ($2) under the token ($3); a recipient of
// it is still to be delivered.
const (
	leased  = "EXISTS (SELECT 1 FROM queue_messages WHERE id = $1 AND lease_owner = $2 AND lease_token = $3)"
	pending = "EXISTS (SELECT 1 FROM queue_recipients WHERE message_id = $1 AND state IN ('queued', 'deferred'))"
)

// lastPerRcpt keeps the last change of each recipient, in order.
func lastPerRcpt(cs []queue.Change) []queue.Change {
	last := make(map[string]int, len(cs))
	for i, c := range cs {
		last[c.Addr] = i
	}
	out := cs[:0:0]
	for i, c := range cs {
		if last[c.Addr] == i {
			out = append(out, c)
		}
	}
	return out
}

// asyncCommit, first in a batch (one implicit transaction), commits it
// without waiting for the disk: for what a database crash may undo
// without losing mail (a lease, a delivery recorded), never for a message
// accepted.
const asyncCommit = "SELECT set_config('synchronous_commit', 'off', true)"
