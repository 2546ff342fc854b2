package pgqueue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"dkimrelay/relay/queue"
)

// walkPage is how many messages Walk reads per query.
const walkPage = 512

const messageColumns = "id, sender, login, received, size, signatures, class, require_tls, tls_optional"

func scanMessage(row pgx.Row) (*queue.Message, error) {
	m := &queue.Message{}
	var sigs []string
	if err := row.Scan(&m.ID, &m.Envelope.From, &m.Envelope.User, &m.Envelope.Received, &m.Size, &sigs, &m.Envelope.Class,
		&m.Envelope.RequireTLS, &m.Envelope.TLSOptional); err != nil {
		return nil, err
	}
	if len(sigs) > 0 {
		m.Envelope.Signatures = sigs
	}
	return m, nil
}

// Get returns a snapshot of one message, or queue.ErrNotFound.
func (s *Store) Get(id string) (*queue.Message, error) {
	if !queue.ValidID(id) {
		return nil, fmt.Errorf("%w: %q is not a queue ID", queue.ErrNotFound, id)
	}
	ctx, cancel := opContext()
	defer cancel()
	m, err := scanMessage(s.pool.QueryRow(ctx, "SELECT "+messageColumns+" FROM queue_messages WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", queue.ErrNotFound, id)
	}
	if err != nil {
		return nil, dbError("reading the message", err)
	}
	if err := s.loadRcpts(ctx, m); err != nil {
		return nil, err
	}
	return m, nil
}

// Walk calls fn with every queued message, oldest first, a page at a
// time; it stops at fn's first error, which it returns.
func (s *Store) Walk(fn func(*queue.Message) error) error {
	var after time.Time
	afterID := ""
	for {
		page, err := s.page(after, afterID)
		if err != nil {
			return err
		}
		for _, m := range page {
			if err := fn(m); err != nil {
				return err
			}
		}
		if len(page) < walkPage {
			return nil
		}
		last := page[len(page)-1]
		after, afterID = last.Envelope.Received, last.ID
	}
}

// page reads the messages after (received, id), with their recipients.
func (s *Store) page(after time.Time, afterID string) ([]*queue.Message, error) {
	ctx, cancel := opContext()
	defer cancel()
	rows, err := s.pool.Query(ctx, "SELECT "+messageColumns+` FROM queue_messages
		WHERE (received, id) > ($1, $2) ORDER BY received, id LIMIT $3`, after, afterID, walkPage)
	if err != nil {
		return nil, dbError("listing the queue", err)
	}
	var page []*queue.Message
	byID := make(map[string]*queue.Message)
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			rows.Close()
			return nil, dbError("listing the queue", err)
		}
		page = append(page, m)
		byID[m.ID] = m
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, dbError("listing the queue", err)
	}
	if len(page) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(page))
	for _, m := range page {
		ids = append(ids, m.ID)
	}
	rows, err = s.pool.Query(ctx, `SELECT message_id, addr, state, attempts, next_attempt, last_reply
		FROM queue_recipients WHERE message_id = ANY($1) ORDER BY message_id, pos`, ids)
	if err != nil {
		return nil, dbError("listing the queue", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		r, err := scanRcpt(rows, &id)
		if err != nil {
			return nil, err
		}
		if m := byID[id]; m != nil {
			m.Rcpts = append(m.Rcpts, r)
			m.Envelope.Rcpts = append(m.Envelope.Rcpts, r.Addr)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, dbError("listing the queue", err)
	}
	return page, nil
}

// Retry makes the pending recipients of message id due now, for every
// relay.
func (s *Store) Retry(id string) error {
	if !queue.ValidID(id) {
		return fmt.Errorf("%w: %q is not a queue ID", queue.ErrNotFound, id)
	}
	n, err := s.retry(id)
	if err == nil && n == 0 {
		return fmt.Errorf("%w: %s", queue.ErrNotFound, id)
	}
	return err
}

// RetryAll makes every pending recipient due now and returns the number
// of messages concerned.
func (s *Store) RetryAll() (int, error) { return s.retry("") }

// retry makes the pending recipients of message id (every message when
// id is "") due now.
func (s *Store) retry(id string) (int, error) {
	ctx, cancel := opContext()
	defer cancel()
	now := s.now()
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE queue_recipients SET next_attempt = $1
			WHERE state IN ('queued', 'deferred') AND ($2 = '' OR message_id = $2)`, now, id); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE queue_messages SET due_at = least(due_at, $1) WHERE $2 = '' OR id = $2`, now, id)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, dbError("making messages due", err)
	}
	s.notify()
	return int(n), nil
}

// Delete removes a message at once, without a bounce. An attempt in
// progress on some relay cannot be recalled and may still deliver it;
// its Record then does nothing.
func (s *Store) Delete(id string) error {
	if !queue.ValidID(id) {
		return fmt.Errorf("%w: %q is not a queue ID", queue.ErrNotFound, id)
	}
	ctx, cancel := opContext()
	defer cancel()
	var found bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		found, err = deleteMessage(ctx, tx, id)
		return err
	})
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%w: %s", queue.ErrNotFound, id)
	}
	return nil
}

// Stats returns the number of queued messages and the arrival of the
// oldest; zero when the database does not answer (the metrics ask at
// every scrape).
func (s *Store) Stats() (n int, oldest time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var first *time.Time
	if err := s.pool.QueryRow(ctx, "SELECT count(*), min(received) FROM queue_messages").Scan(&n, &first); err != nil {
		return 0, time.Time{}
	}
	if first != nil {
		oldest = *first
	}
	return n, oldest
}
