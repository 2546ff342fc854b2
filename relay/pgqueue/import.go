package pgqueue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"dkimrelay/relay/queue"
)

// Imported counts what ImportFiles did.
type Imported struct {
	Moved   int // copied into the database and removed from the files
	Present int // already in the database (an earlier, interrupted run): removed from the files
}

// ImportFiles moves every message of the files' queue q (which no relay
// may have open) into the database, with its recipients' states and
// schedule as they are: each is inserted in one transaction, committed,
// then removed from q. Interrupted at any point and run again, it finds
// the messages it inserted already there and only removes them from q:
// every message ends up in the database once.
func (s *Store) ImportFiles(ctx context.Context, q *queue.Queue) (Imported, error) {
	var n Imported
	err := q.Walk(func(m *queue.Message) error {
		body, err := q.OpenRaw(m.ID)
		if err != nil {
			return err
		}
		inserted, err := s.importOne(ctx, m, body)
		body.Close()
		if err != nil {
			return fmt.Errorf("queue: importing %s: %w", m.ID, err)
		}
		if err := q.Delete(m.ID); err != nil {
			return fmt.Errorf("queue: %s is in the database; removing it from the files: %w", m.ID, err)
		}
		if inserted {
			n.Moved++
		} else {
			n.Present++
		}
		return nil
	})
	return n, err
}

// importOne inserts m and its body unless a message of its ID is there.
func (s *Store) importOne(ctx context.Context, m *queue.Message, body io.Reader) (inserted bool, err error) {
	var due time.Time
	for _, r := range m.Rcpts {
		if r.State.Pending() && (due.IsZero() || r.NextAttempt.Before(due)) {
			due = r.NextAttempt
		}
	}
	if due.IsZero() {
		return false, nil // nothing left to deliver
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO queue_messages (id, sender, login, received, size, signatures, accepted_by, due_at, class,
				require_tls, tls_optional)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING`,
			m.ID, m.Envelope.From, m.Envelope.User, m.Envelope.Received, m.Size, nonNil(m.Envelope.Signatures), s.node, due, m.Envelope.Class,
			m.Envelope.RequireTLS, m.Envelope.TLSOptional)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		for i, r := range m.Rcpts {
			var next *time.Time
			if !r.NextAttempt.IsZero() {
				next = &r.NextAttempt
			}
			if _, err := tx.Exec(ctx, `INSERT INTO queue_recipients (message_id, pos, addr, state, attempts, next_attempt, last_reply)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, m.ID, i+1, r.Addr, r.State.String(), r.Attempts, next, r.LastReply); err != nil {
				return err
			}
		}
		buf := make([]byte, chunkSize)
		for seq := int32(0); ; seq++ {
			k, err := io.ReadFull(body, buf)
			if errors.Is(err, io.EOF) && seq > 0 {
				break
			}
			if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
				return err
			}
			if _, err := tx.Exec(ctx, "INSERT INTO queue_chunks (message_id, seq, data) VALUES ($1, $2, $3)", m.ID, seq, buf[:k]); err != nil {
				return err
			}
			if k < len(buf) {
				break
			}
		}
		inserted = true
		return nil
	})
	return inserted, err
}
