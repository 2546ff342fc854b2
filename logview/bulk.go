package logview

import (
	"context"
	"time"

	"dkimrelay/events"
)

// BulkCount is what the log says about the bulk-class mail accepted since
// a time: how many messages, and how many lacked the RFC 8058 one-click
// unsubscribe fields, signed (the accepted event's "unsubscribe").
type BulkCount struct {
	Messages, Missing int
}

// CountBulk reads the log at path (and its rotated siblings) for the
// bulk-class messages accepted since since.
func CountBulk(ctx context.Context, path string, since time.Time) (BulkCount, error) {
	var c BulkCount
	r := &Reader{
		Path:   path,
		Filter: Filter{Status: []string{events.Accepted}, Since: since},
		Emit: func(e *Event) error {
			if e.String(events.ClassKey) != "bulk" {
				return nil
			}
			c.Messages++
			if events.Unsubscribe(e.String(events.UnsubscribeKey)) != events.UnsubscribeSigned {
				c.Missing++
			}
			return nil
		},
	}
	err := r.Read(ctx)
	return c, err
}
