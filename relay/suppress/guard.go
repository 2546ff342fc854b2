package suppress

import (
	"log/slog"
	"time"

	"dkimrelay/events"
	"dkimrelay/relay/outcome"
	"dkimrelay/suppressions"
)

// Guard stands between the queue and delivery.
type Guard struct {
	store suppressions.Store
	after time.Duration
	log   *slog.Logger
	now   func() time.Time
}

// New returns a Guard over store. A NoMailbox failure suppresses its
// recipient for after; 0 adds nothing (the entries already in store, such
// as those added by hand, still hold recipients back).
func New(store suppressions.Store, after time.Duration, log *slog.Logger) *Guard {
	return &Guard{store: store, after: after, log: log, now: time.Now}
}

// Hold splits the recipients of message qid into those to deliver and,
// for the suppressed ones, their outcomes, logging `suppressed` for each.
// A store that cannot be read holds nothing back: the mail goes out.
func (g *Guard) Hold(qid string, rcpts []string) (deliver []string, held []outcome.Outcome) {
	now := g.now()
	deliver = rcpts[:0:0]
	for _, r := range rcpts {
		e, ok, err := g.store.Lookup(r, now)
		if err != nil {
			events.SuppressionFailure{QID: qid, Rcpt: r, Err: err}.Log(g.log)
		}
		if !ok {
			deliver = append(deliver, r)
			continue
		}
		reason := e.Reason
		if e.Reply != "" {
			reason += ": " + e.Reply
		}
		events.Suppression{QID: qid, Rcpt: r, Reason: reason, Until: e.Until}.Log(g.log)
		held = append(held, outcome.Outcome{Rcpt: r, Status: outcome.Suppressed, Enhanced: "5.1.1",
			Reply: "not delivered: the address is on the suppression list (" + reason + "); see `dkimrelay suppressions list`"})
	}
	return deliver, held
}

// Learn reads the outcomes of an attempt on message qid: a NoMailbox
// failure suppresses its recipient, a SenderBlocked one is logged as
// `blocked_by_receiver`.
func (g *Guard) Learn(qid string, outcomes []outcome.Outcome) {
	now := g.now()
	for _, o := range outcomes {
		switch Classify(o) {
		case SenderBlocked:
			events.Blocked{QID: qid, Rcpt: o.Rcpt, MX: o.MX, Code: o.Code, Reply: o.Reply}.Log(g.log)
		case NoMailbox:
			if g.after <= 0 {
				continue
			}
			err := g.store.Add(suppressions.Entry{Addr: o.Rcpt, Reason: "bounce", Reply: o.Reply, QID: qid,
				Created: now, Until: now.Add(g.after)})
			if err != nil {
				events.SuppressionFailure{QID: qid, Rcpt: o.Rcpt, Err: err}.Log(g.log)
			}
		}
	}
}
