package events

import (
	"context"
	"log/slog"
	"time"
)

// Event is one of the events the relay logs with typed fields. Each is
// written by its Log method and read back from a slog.Record by
// FromRecord, so the log and the metrics agree on names and fields.
type Event interface {
	// Name is the event's name (the "msg" field).
	Name() string
	// Log writes the event to log.
	Log(log *slog.Logger)
}

func logAttrs(log *slog.Logger, level slog.Level, name string, attrs ...slog.Attr) {
	log.LogAttrs(context.Background(), level, name, attrs...)
}

// qid is the message's queue ID attribute; none when id is "" (the logger
// carries it, from log.With).
func qid(attrs []slog.Attr, id string) []slog.Attr {
	if id == "" {
		return attrs
	}
	return append(attrs, slog.String(QIDKey, id))
}

// Acceptance is the event "accepted": a message is durably queued and the
// client (or, for a bounce, the relay) has its queue ID.
type Acceptance struct {
	QID   string
	User  string // the login; "" for a bounce
	Class string // the traffic class: "transactional" or "bulk"; "" not logged
	// Unsubscribe is, for bulk mail, UnsubscribeSigned or
	// UnsubscribeMissing; "" is not logged.
	Unsubscribe Unsubscribe
	From        string
	Rcpts       []string
	Size        int64
	DKIM        []string      // the signing selectors
	SignTime    time.Duration // 0: not measured
	Remote      string        // the client; "" for a bounce
	Kind        string        // "" for submitted mail, "bounce" for a bounce
	OrigQID     string        // a bounce's original message
}

// Name implements Event.
func (Acceptance) Name() string { return Accepted }

// Log implements Event.
func (e Acceptance) Log(log *slog.Logger) {
	a := qid(make([]slog.Attr, 0, 10), e.QID)
	a = append(a,
		slog.String(UserKey, e.User),
		slog.String(FromKey, e.From),
		slog.Any(RcptsKey, orEmpty(e.Rcpts)),
		slog.Int64(SizeKey, e.Size),
		slog.Any(DKIMKey, orEmpty(e.DKIM)))
	if e.SignTime > 0 {
		a = append(a, slog.Any(SignTimeKey, Duration(e.SignTime)))
	}
	if e.Remote != "" {
		a = append(a, slog.String(RemoteKey, e.Remote))
	}
	if e.Class != "" {
		a = append(a, slog.String(ClassKey, e.Class))
	}
	if e.Unsubscribe != "" {
		a = append(a, slog.String(UnsubscribeKey, string(e.Unsubscribe)))
	}
	if e.Kind != "" {
		a = append(a, slog.String(KindKey, e.Kind))
	}
	if e.OrigQID != "" {
		a = append(a, slog.String(OrigQIDKey, e.OrigQID))
	}
	logAttrs(log, slog.LevelInfo, Accepted, a...)
}

// Delivery is the event "delivered": the receiving server accepted the
// message for one recipient.
type Delivery struct {
	QID  string
	Rcpt string
	MX   string // the host that answered
	TLS  string // the TLS version; "" for none
	// TLSPolicy is the policy the session was held to: none,
	// opportunistic, mta-sts, mta-sts-testing, dane, required or
	// smarthost (see docs/tls.md); "" is logged as none.
	TLSPolicy string
	Code      int
	Delay     time.Duration // since acceptance; logged to the millisecond
	Reply     string
}

// Name implements Event.
func (Delivery) Name() string { return Delivered }

// Log implements Event.
func (e Delivery) Log(log *slog.Logger) {
	tls := e.TLS
	if tls == "" {
		tls = "none"
	}
	policy := e.TLSPolicy
	if policy == "" {
		policy = "none"
	}
	logAttrs(log, slog.LevelInfo, Delivered, append(qid(make([]slog.Attr, 0, 8), e.QID),
		slog.String(RcptKey, e.Rcpt),
		slog.String(MXKey, e.MX),
		slog.String(TLSKey, tls),
		slog.String(TLSPolicyKey, policy),
		slog.Int(CodeKey, e.Code),
		slog.Any(DelayKey, Duration(e.Delay.Round(time.Millisecond))),
		slog.String(ReplyKey, e.Reply))...)
}

// Deferral is the event "deferred": a temporary failure for one
// recipient, tried again at NextAttempt.
type Deferral struct {
	QID         string
	Rcpt        string
	MX          string
	Code        int // 0 when no server answered
	Reason      string
	NextAttempt time.Time
	// TLSPolicy names the TLS policy the failed attempt was held to,
	// when one beyond opportunistic TLS applied; "" is not logged.
	TLSPolicy string
}

// Name implements Event.
func (Deferral) Name() string { return Deferred }

// Log implements Event.
func (e Deferral) Log(log *slog.Logger) {
	a := append(qid(make([]slog.Attr, 0, 7), e.QID),
		slog.String(RcptKey, e.Rcpt),
		slog.String(MXKey, e.MX),
		slog.Int(CodeKey, e.Code),
		slog.String(ReasonKey, e.Reason),
		slog.Any(NextAttemptKey, Time(e.NextAttempt)))
	if e.TLSPolicy != "" {
		a = append(a, slog.String(TLSPolicyKey, e.TLSPolicy))
	}
	logAttrs(log, slog.LevelInfo, Deferred, a...)
}

// Bounce is the event "bounced": a permanent failure for one recipient.
type Bounce struct {
	QID    string
	Rcpt   string
	MX     string
	Code   int
	Reason string
	// TLSPolicy: see Deferral.
	TLSPolicy string
}

// Name implements Event.
func (Bounce) Name() string { return Bounced }

// Log implements Event.
func (e Bounce) Log(log *slog.Logger) {
	a := append(qid(make([]slog.Attr, 0, 6), e.QID),
		slog.String(RcptKey, e.Rcpt),
		slog.String(MXKey, e.MX),
		slog.Int(CodeKey, e.Code),
		slog.String(ReasonKey, e.Reason))
	if e.TLSPolicy != "" {
		a = append(a, slog.String(TLSPolicyKey, e.TLSPolicy))
	}
	logAttrs(log, slog.LevelInfo, Bounced, a...)
}

// Expiry is the event "expired": a recipient still failing temporarily at
// delivery.max_lifetime, bounced.
type Expiry struct {
	QID    string
	Rcpt   string
	Reason string        // the last failure
	Delay  time.Duration // since acceptance; logged to the millisecond
}

// Name implements Event.
func (Expiry) Name() string { return Expired }

// Log implements Event.
func (e Expiry) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelInfo, Expired, append(qid(make([]slog.Attr, 0, 4), e.QID),
		slog.String(RcptKey, e.Rcpt),
		slog.String(ReasonKey, e.Reason),
		slog.Any(DelayKey, Duration(e.Delay.Round(time.Millisecond))))...)
}

// Deletion is the event "deleted": the administrator removed a message
// from the queue (queue delete); no bounce is sent.
type Deletion struct {
	QID    string
	From   string
	Rcpts  []string // the recipients it had not reached
	Reason string
}

// Name implements Event.
func (Deletion) Name() string { return Deleted }

// Log implements Event.
func (e Deletion) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelInfo, Deleted, append(qid(make([]slog.Attr, 0, 4), e.QID),
		slog.String(FromKey, e.From),
		slog.Any(RcptsKey, e.Rcpts),
		slog.String(ReasonKey, e.Reason))...)
}
