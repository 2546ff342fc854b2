package events

import (
	"log/slog"
	"time"
)

// The events that guard the sending domain's reputation
// (docs/deliverability.md).
const (
	// Duplicated is a resubmission identical to a message accepted within
	// submission.duplicate_window: answered with the first message's
	// queue ID and not queued again.
	Duplicated = "duplicate"
	// Suppressed is a recipient on the suppression list: its message was
	// accepted and is not delivered to it, and no bounce is sent.
	Suppressed = "suppressed"
	// BlockedByReceiver is a receiving server refusing mail because of
	// the sender (5.7.x, a blocklist): no recipient is suppressed for it;
	// the administrator must act.
	BlockedByReceiver = "blocked_by_receiver"
	// SuppressionFailed is the suppression list failing to be read or
	// written: the recipient is delivered to, or not added.
	SuppressionFailed = "suppression_failed"
	// ProviderPaused is a destination provider answering with a
	// throttling reply: no mail goes to it until the pause ends.
	ProviderPaused = "provider_paused"
	// ProviderResumed is a provider back at its full rates after a pause.
	ProviderResumed = "provider_resumed"
)

// Unsubscribe is the accepted event's "unsubscribe" for bulk mail: both
// RFC 8058 one-click fields present and signed, or not.
type Unsubscribe string

// The values of Unsubscribe.
const (
	UnsubscribeSigned  = Unsubscribe("signed")
	UnsubscribeMissing = Unsubscribe("missing")
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

// Suppression is the event "suppressed": a recipient on the suppression
// list was not delivered to.
type Suppression struct {
	QID    string
	Rcpt   string
	Reason string    // why the address is suppressed, and the reply that did it
	Until  time.Time // when the suppression lapses; zero: never (added by hand)
}

// Name implements Event.
func (Suppression) Name() string { return Suppressed }

// Log implements Event.
func (e Suppression) Log(log *slog.Logger) {
	until := slog.String(UntilKey, "never")
	if !e.Until.IsZero() {
		until = slog.Any(UntilKey, Time(e.Until))
	}
	logAttrs(log, slog.LevelInfo, Suppressed, append(qid(make([]slog.Attr, 0, 4), e.QID),
		slog.String(RcptKey, e.Rcpt),
		slog.String(ReasonKey, e.Reason),
		until)...)
}

// Blocked is the event "blocked_by_receiver": a receiving server refused a
// message because of its sender (a 5.7.x policy reply, a blocklist),
// not because of the mailbox.
type Blocked struct {
	QID   string
	Rcpt  string
	MX    string // the receiver that refused
	Code  int
	Reply string
}

// Name implements Event.
func (Blocked) Name() string { return BlockedByReceiver }

// Log implements Event.
func (e Blocked) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelWarn, BlockedByReceiver, append(qid(make([]slog.Attr, 0, 5), e.QID),
		slog.String(RcptKey, e.Rcpt),
		slog.String(MXKey, e.MX),
		slog.Int(CodeKey, e.Code),
		slog.String(ReplyKey, e.Reply))...)
}

// SuppressionFailure is the event "suppression_failed": the suppression
// list could not be read (the recipient is delivered to) or written (it is
// not added).
type SuppressionFailure struct {
	QID  string
	Rcpt string
	Err  error
}

// Name implements Event.
func (SuppressionFailure) Name() string { return SuppressionFailed }

// Log implements Event.
func (e SuppressionFailure) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelError, SuppressionFailed, append(qid(make([]slog.Attr, 0, 3), e.QID),
		slog.String(RcptKey, e.Rcpt),
		slog.String(ErrorKey, e.Err.Error()))...)
}

// ProviderPause is the event "provider_paused": a throttling reply made
// the relay stop delivering to a provider until Until.
type ProviderPause struct {
	Provider string
	MX       string // the host that answered
	Until    time.Time
	Reply    string
	Rate     float64 // the share of its rates the provider gets after the pause
}

// Name implements Event.
func (ProviderPause) Name() string { return ProviderPaused }

// Log implements Event.
func (e ProviderPause) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelWarn, ProviderPaused,
		slog.String(ProviderKey, e.Provider),
		slog.String(MXKey, e.MX),
		slog.Any(UntilKey, Time(e.Until)),
		slog.String(ReplyKey, e.Reply),
		slog.Float64(RateKey, e.Rate))
}

// ProviderResume is the event "provider_resumed": a provider paused
// earlier gets its full rates again.
type ProviderResume struct {
	Provider string
}

// Name implements Event.
func (ProviderResume) Name() string { return ProviderResumed }

// Log implements Event.
func (e ProviderResume) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelInfo, ProviderResumed, slog.String(ProviderKey, e.Provider))
}
