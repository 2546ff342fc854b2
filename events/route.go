package events

import "log/slog"

// The events of one delivery attempt's route: which MX hosts and addresses
// were tried or skipped, and why (README.md, "Delivery"). The Debug ones
// are logged only with log.level = "debug".
const (
	NoRoute            = "no_route"                   // debug: no host to try; the reason is the outcome
	MXSkipped          = "mx_skipped"                 // an MX host not tried (a TLS policy or REQUIRETLS rules it out)
	MXNextAddress      = "mx_next_address"            // debug: an MX address failed before the transaction; the next is tried
	InternalSkipped    = "internal_addresses_skipped" // an MX host's loopback, private or link-local addresses, not tried
	SmarthostNext      = "smarthost_next_address"     // debug: a smarthost address failed; the next is tried
	SmarthostAuthFail  = "smarthost_auth_failed"      // the smarthost refused the login
	TransactionDone    = "transaction_done"           // debug: one SMTP transaction ended, with its reply
	PooledSessionStale = "pooled_session_closed"      // debug: a pooled session the server had closed; another is tried
	MessageUnreadable  = "message_unreadable"         // a queued message could not be read: deferred

	AddrKey      = "addr"      // the IP address tried
	AddrsKey     = "addrs"     // internal_addresses_skipped: the addresses left out
	ReusedKey    = "reused"    // transaction_done: the session came from the pool
	SmarthostKey = "smarthost" // smarthost_auth_failed: the smarthost's name
)

// NoRouteFound is the event "no_route" (debug).
type NoRouteFound struct {
	Reason string
}

// Name implements Event.
func (NoRouteFound) Name() string { return NoRoute }

// Log implements Event.
func (e NoRouteFound) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelDebug, NoRoute, slog.String(ReasonKey, e.Reason))
}

// MXSkip is the event "mx_skipped": the host is not tried in this attempt.
type MXSkip struct {
	MX     string
	Reason string
}

// Name implements Event.
func (MXSkip) Name() string { return MXSkipped }

// Log implements Event.
func (e MXSkip) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelInfo, MXSkipped, slog.String(MXKey, e.MX), slog.String(ReasonKey, e.Reason))
}

// MXAddressFailure is the event "mx_next_address" (debug).
type MXAddressFailure struct {
	MX     string
	Addr   string
	Reason string
}

// Name implements Event.
func (MXAddressFailure) Name() string { return MXNextAddress }

// Log implements Event.
func (e MXAddressFailure) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelDebug, MXNextAddress,
		slog.String(MXKey, e.MX), slog.String(AddrKey, e.Addr), slog.String(ReasonKey, e.Reason))
}

// InternalAddressesSkip is the event "internal_addresses_skipped": the
// host's public addresses are tried, its internal ones are not (unless
// delivery.allow_internal = true).
type InternalAddressesSkip struct {
	MX    string
	Addrs []string
}

// Name implements Event.
func (InternalAddressesSkip) Name() string { return InternalSkipped }

// Log implements Event.
func (e InternalAddressesSkip) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelInfo, InternalSkipped, slog.String(MXKey, e.MX), slog.Any(AddrsKey, e.Addrs))
}

// SmarthostAddressFailure is the event "smarthost_next_address" (debug).
type SmarthostAddressFailure struct {
	Addr   string
	Reason string
}

// Name implements Event.
func (SmarthostAddressFailure) Name() string { return SmarthostNext }

// Log implements Event.
func (e SmarthostAddressFailure) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelDebug, SmarthostNext, slog.String(AddrKey, e.Addr), slog.String(ReasonKey, e.Reason))
}

// SmarthostAuthFailure is the event "smarthost_auth_failed": check
// smarthost_user and smarthost_password_file. Reply must already be
// redacted: the password never reaches the log.
type SmarthostAuthFailure struct {
	Smarthost string
	User      string
	Reply     string
}

// Name implements Event.
func (SmarthostAuthFailure) Name() string { return SmarthostAuthFail }

// Log implements Event.
func (e SmarthostAuthFailure) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelError, SmarthostAuthFail,
		slog.String(SmarthostKey, e.Smarthost), slog.String(UserKey, e.User), slog.String(ReplyKey, e.Reply))
}

// Transaction is the event "transaction_done" (debug).
type Transaction struct {
	MX     string
	Reply  string
	TLS    string
	Reused bool
}

// Name implements Event.
func (Transaction) Name() string { return TransactionDone }

// Log implements Event.
func (e Transaction) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelDebug, TransactionDone,
		slog.String(MXKey, e.MX), slog.String(ReplyKey, e.Reply), slog.String(TLSKey, e.TLS), slog.Bool(ReusedKey, e.Reused))
}

// PooledSessionClosed is the event "pooled_session_closed" (debug).
type PooledSessionClosed struct {
	MX string
}

// Name implements Event.
func (PooledSessionClosed) Name() string { return PooledSessionStale }

// Log implements Event.
func (e PooledSessionClosed) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelDebug, PooledSessionStale, slog.String(MXKey, e.MX))
}

// UnreadableMessage is the event "message_unreadable": the message's
// recipients are deferred; the logger carries the qid.
type UnreadableMessage struct {
	Err error
}

// Name implements Event.
func (UnreadableMessage) Name() string { return MessageUnreadable }

// Log implements Event.
func (e UnreadableMessage) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelError, MessageUnreadable, slog.String(ErrorKey, e.Err.Error()))
}
