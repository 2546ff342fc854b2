package cluster

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"dkimrelay/events"
)

// eventBuffer bounds the events waiting to be written: past it (the
// database down for long) events are dropped here, and stay in the
// relay's own log file.
const eventBuffer = 10000

// eventFlush is how often the waiting events are written, in one batch.
const eventFlush = 200 * time.Millisecond

// pruneEvery is how often the relays try to remove events older than the
// retention; one relay does it, under an advisory lock.
const pruneEvery = time.Hour

type eventRow struct {
	time     time.Time
	qid, msg string
	raw      string
}

// EventLog copies the relay's message events (those with a qid) into
// the table cluster_events, so that `logs --id` tells a message's whole
// life when one relay accepted it and another delivered it. Writing is
// batched and never blocks the relay: with the database away, events are
// dropped from the table (not from the log file).
type EventLog struct {
	node    string
	rows    chan eventRow
	dropped atomic.Int64
}

// NewEventLog returns the event log of relay node; Handler feeds it and
// Run writes it.
func NewEventLog(node string) *EventLog {
	return &EventLog{node: node, rows: make(chan eventRow, eventBuffer)}
}

// Dropped is the number of events not written to the table.
func (l *EventLog) Dropped() int64 { return l.dropped.Load() }

// Handler returns a slog.Handler that passes every record to next and
// copies the message events to the table.
func (l *EventLog) Handler(next slog.Handler) slog.Handler {
	return events.Tee(next, l.copy)
}

// copy queues r when it names a message.
func (l *EventLog) copy(r slog.Record, pre []slog.Attr) {
	qid := ""
	for _, a := range pre {
		if a.Key == events.QIDKey {
			qid = a.Value.String()
		}
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == events.QIDKey {
			qid = a.Value.String()
			return false
		}
		return true
	})
	if qid == "" {
		return
	}
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, nil).WithAttrs(append(append([]slog.Attr(nil), pre...), slog.String("node", l.node)))
	if err := h.Handle(context.Background(), r); err != nil {
		return
	}
	row := eventRow{time: r.Time, qid: qid, msg: r.Message, raw: strings.TrimSuffix(buf.String(), "\n")}
	select {
	case l.rows <- row:
	default:
		l.dropped.Add(1)
	}
}

// Run writes the events to db until ctx ends, and once an hour removes
// those older than retention, one relay of the cluster at a time. With a
// retention of 0 no event is kept.
func (l *EventLog) Run(ctx context.Context, db *DB, retention time.Duration) {
	flush := time.NewTicker(eventFlush)
	defer flush.Stop()
	prune := time.NewTicker(pruneEvery)
	defer prune.Stop()
	var batch []eventRow
	var lastWarn time.Time
	for {
		select {
		case <-ctx.Done():
			// What is waiting is written, briefly: a stop should not lose
			// the last deliveries' story.
			wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			l.write(wctx, db, append(batch, l.drain()...))
			cancel()
			return
		case row := <-l.rows:
			if retention > 0 {
				batch = append(batch, row)
			}
		case <-flush.C:
			if len(batch) == 0 {
				continue
			}
			batch = append(batch, l.drain()...)
			if err := l.write(ctx, db, batch); err != nil {
				l.dropped.Add(int64(len(batch)))
				if time.Since(lastWarn) > time.Minute {
					lastWarn = time.Now()
					db.log.Warn(events.ClusterEventsLost, events.ErrorKey, err.Error(), events.DetailKey, "message events are not kept in the database meanwhile; the log file has them")
				}
			}
			batch = batch[:0]
		case <-prune.C:
			if retention > 0 {
				l.Prune(ctx, db, retention)
			}
		}
	}
}

func (l *EventLog) drain() []eventRow {
	var rows []eventRow
	for {
		select {
		case r := <-l.rows:
			rows = append(rows, r)
		default:
			return rows
		}
	}
}

func (l *EventLog) write(ctx context.Context, db *DB, batch []eventRow) error {
	if len(batch) == 0 {
		return nil
	}
	n := len(batch)
	times, qids, msgs, raws := make([]time.Time, n), make([]string, n), make([]string, n), make([]string, n)
	for i, r := range batch {
		times[i], qids[i], msgs[i], raws[i] = r.time, r.qid, r.msg, r.raw
	}
	_, err := db.Pool.Exec(ctx, `INSERT INTO cluster_events (time, node, qid, msg, raw)
		SELECT t.time, $1, t.qid, t.msg, t.raw FROM unnest($2::timestamptz[], $3::text[], $4::text[], $5::text[]) AS t(time, qid, msg, raw)`,
		l.node, times, qids, msgs, raws)
	return err
}

// Prune removes the events older than retention, unless another relay is
// doing it now, and returns how many it removed.
func (l *EventLog) Prune(ctx context.Context, db *DB, retention time.Duration) (int64, error) {
	var removed int64
	_, err := db.TryDuty(ctx, EventsPruneLock, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM cluster_events WHERE time < $1", time.Now().Add(-retention))
		removed = tag.RowsAffected()
		return err
	})
	return removed, err
}

// Story returns the events of message qid kept in the database, every
// relay's, oldest first: JSON lines as in the log file, each with the
// node that logged it.
func Story(ctx context.Context, db *DB, qid string) (io.Reader, error) {
	rows, err := db.Pool.Query(ctx, "SELECT raw FROM cluster_events WHERE qid = $1 ORDER BY time, id", qid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var buf bytes.Buffer
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		buf.WriteString(raw)
		buf.WriteByte('\n')
	}
	return &buf, rows.Err()
}
