package dispatch

import (
	"context"
	"slices"
	"time"

	"dkimrelay/events"
	"dkimrelay/relay/outcome"
	"dkimrelay/relay/pacing"
	"dkimrelay/relay/queue"
)

// postponer is a store that can hold recipients back without counting an
// attempt (*queue.Queue).
type postponer interface {
	Postpone(m *queue.Message, rcpts []string, until time.Time, why string) error
}

// pace asks g which of m's recipients may go now. The others are
// postponed in the queue, without an attempt counted, until their
// provider's pause ends or their turn comes; their last reply says why
// (queue list shows it). A store that cannot postpone gets them back as
// temporary failures (outcomes), retried on its own schedule.
func (d *Dispatcher) pace(ctx context.Context, g *pacing.Gate, m *queue.Message, rcpts []string) ([]string, []pacing.Admitted, []outcome.Outcome) {
	admitted, held := g.Split(ctx, m.ID, rcpts, m.Envelope.TrafficClass() == queue.ClassBulk)
	var deferred []outcome.Outcome
	for _, h := range held {
		p, ok := d.cfg.Queue.(postponer)
		if ok {
			if err := p.Postpone(m, h.Rcpts, h.Until, h.Why); err != nil {
				events.QueueFailure{QID: m.ID, Err: err}.Log(d.log)
			}
			continue
		}
		deferred = append(deferred, outcome.Local(outcome.Transient, "4.7.0", h.Why).For(h.Rcpts)...)
	}
	var now []string
	for _, a := range admitted {
		now = append(now, a.Rcpts...)
	}
	return now, admitted, deferred
}

// endTickets hands each admitted group the outcomes of its recipients.
func endTickets(tickets []pacing.Admitted, outcomes []outcome.Outcome) {
	for _, t := range tickets {
		var mine []outcome.Outcome
		for _, o := range outcomes {
			if slices.Contains(t.Rcpts, o.Rcpt) {
				mine = append(mine, o)
			}
		}
		t.Ticket.Done(mine)
	}
}
