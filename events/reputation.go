package events

import "log/slog"

// The events that guard the sending domain's reputation
// (docs/deliverability.md).
const (
	// Duplicated is a resubmission identical to a message accepted within
	// submission.duplicate_window: answered with the first message's
	// queue ID and not queued again.
	Duplicated = "duplicate"
)

// Duplicate is the event "duplicate": the application submitted again a
// message the relay had already queued (its retry after a lost reply), and
// was answered with the first message's queue ID.
type Duplicate struct {
	QID    string // the first message's queue ID
	User   string
	Remote string // the client; "" when unknown
}

// Name implements Event.
func (Duplicate) Name() string { return Duplicated }

// Log implements Event.
func (e Duplicate) Log(log *slog.Logger) {
	a := qid(make([]slog.Attr, 0, 3), e.QID)
	a = append(a, slog.String(UserKey, e.User))
	if e.Remote != "" {
		a = append(a, slog.String(RemoteKey, e.Remote))
	}
	logAttrs(log, slog.LevelInfo, Duplicated, a...)
}
