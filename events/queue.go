package events

import "log/slog"

// QueueDamage is the event "queue_damaged": a message's files that could
// not be read at start, moved aside into MovedTo (or, when Err is set,
// left where they were).
type QueueDamage struct {
	QID     string
	Reason  string
	MovedTo string
	Err     error // moving them failed
}

// Name implements Event.
func (QueueDamage) Name() string { return QueueDamaged }

// Log implements Event.
func (e QueueDamage) Log(log *slog.Logger) {
	last := slog.String(MovedToKey, e.MovedTo)
	if e.Err != nil {
		last = slog.String(ErrorKey, "could not move it aside: "+e.Err.Error())
	}
	logAttrs(log, slog.LevelError, QueueDamaged, append(qid(make([]slog.Attr, 0, 3), e.QID),
		slog.String(ReasonKey, e.Reason), last)...)
}

// RetryRequest is the event "retry": the administrator asked for an
// attempt now (queue retry), of one message or of all (Messages of them).
type RetryRequest struct {
	QID      string // "" for retry --all
	Messages int
}

// Name implements Event.
func (RetryRequest) Name() string { return Retry }

// Log implements Event.
func (e RetryRequest) Log(log *slog.Logger) {
	if e.QID != "" {
		logAttrs(log, slog.LevelInfo, Retry, slog.String(QIDKey, e.QID))
		return
	}
	logAttrs(log, slog.LevelInfo, Retry, slog.Int(MessagesKey, e.Messages))
}

// QueueFailure is the event "queue": the queue could not hand out a
// message or record an attempt (the message stays queued as it was and
// is tried again).
type QueueFailure struct {
	QID    string // "" when no message is concerned
	Err    error
	Detail string // what it means for delivery, when that needs saying
}

// Name implements Event.
func (QueueFailure) Name() string { return QueueFailed }

// Log implements Event.
func (e QueueFailure) Log(log *slog.Logger) {
	a := append(qid(make([]slog.Attr, 0, 3), e.QID), slog.String(ErrorKey, e.Err.Error()))
	if e.Detail != "" {
		a = append(a, slog.String(DetailKey, e.Detail))
	}
	logAttrs(log, slog.LevelError, QueueFailed, a...)
}

// BounceFailure is the event "bounce_failed": the bounce of QID could not
// be queued.
type BounceFailure struct {
	QID string
	Err error
}

// Name implements Event.
func (BounceFailure) Name() string { return BounceFailed }

// Log implements Event.
func (e BounceFailure) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelError, BounceFailed, slog.String(QIDKey, e.QID), slog.String(ErrorKey, e.Err.Error()))
}
