package events

import (
	"log/slog"
	"time"
)

// Connection is the event "connect": the submission listener took a
// connection.
type Connection struct {
	Remote string
	Local  string
}

// Name implements Event.
func (Connection) Name() string { return Connect }

// Log implements Event.
func (e Connection) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelInfo, Connect, slog.String(RemoteKey, e.Remote), slog.String(LocalKey, e.Local))
}

// AuthAttempt is the event "auth": one AUTH and its result. The attempted
// name is logged, the password never is.
type AuthAttempt struct {
	User      string
	Mechanism string // PLAIN or LOGIN
	OK        bool   // logged as result "ok" or "failed"
	Remote    string
	Helo      string
	Cached    bool // answered from the verified login cache
}

// Name implements Event.
func (AuthAttempt) Name() string { return Auth }

// Log implements Event.
func (e AuthAttempt) Log(log *slog.Logger) {
	result := "failed"
	if e.OK {
		result = "ok"
	}
	a := []slog.Attr{
		slog.String(UserKey, e.User),
		slog.String(MechanismKey, e.Mechanism),
		slog.String(ResultKey, result),
		slog.String(RemoteKey, e.Remote),
		slog.String(HeloKey, e.Helo),
	}
	if e.Cached {
		a = append(a, slog.Bool(CachedKey, true))
	}
	logAttrs(log, slog.LevelInfo, Auth, a...)
}

// Rejection is the event "rejected": the relay refused a connection or a
// command, with the reply it gave.
type Rejection struct {
	// Level is Info for a refusal of the client's request, Warn for a
	// limit (too many connections, a blocked address), Error for a fault
	// of the relay's (the disk, the signer).
	Level  slog.Level
	Code   int
	Reason string // the reply text, or the local fault
	Remote string
	From   string    // the sender refused, if that was the question
	Rcpt   string    // the recipient refused, if that was the question
	Until  time.Time // when a blocked address may come back
	User   string    // the login, once there is one
	// Repeated counts the refusals like this one that were left out of
	// the log (submission.max_repeated_log_lines): on the line logged when
	// a connection ends, those of the connection; on a refused connection,
	// those of its address in the minute before.
	Repeated int
}

// Name implements Event.
func (Rejection) Name() string { return Rejected }

// Log implements Event.
func (e Rejection) Log(log *slog.Logger) {
	a := make([]slog.Attr, 0, 6)
	a = append(a, slog.Int(CodeKey, e.Code), slog.String(ReasonKey, e.Reason), slog.String(RemoteKey, e.Remote))
	if e.From != "" {
		a = append(a, slog.String(FromKey, e.From))
	}
	if e.Rcpt != "" {
		a = append(a, slog.String(RcptKey, e.Rcpt))
	}
	if !e.Until.IsZero() {
		a = append(a, slog.Any(UntilKey, Time(e.Until)))
	}
	if e.User != "" {
		a = append(a, slog.String(UserKey, e.User))
	}
	if e.Repeated > 0 {
		a = append(a, slog.Int(RepeatedKey, e.Repeated))
	}
	logAttrs(log, e.Level, Rejected, a...)
}

// SPFCheck is the event "spf": the SPF result of one egress address for
// a sender's domain, at submission.
type SPFCheck struct {
	Domain string
	IP     string
	Result string // pass, fail, softfail, neutral, none, temperror, permerror
	Detail string
	Cached bool
	Policy string // delivery.spf_policy
}

// Name implements Event.
func (SPFCheck) Name() string { return SPF }

// Log implements Event: at Info for a pass, Warn otherwise.
func (e SPFCheck) Log(log *slog.Logger) {
	level := slog.LevelWarn
	if e.Result == "pass" {
		level = slog.LevelInfo
	}
	logAttrs(log, level, SPF,
		slog.String(DomainKey, e.Domain),
		slog.String(IPKey, e.IP),
		slog.String(ResultKey, e.Result),
		slog.String(DetailKey, e.Detail),
		slog.Bool(CachedKey, e.Cached),
		slog.String(PolicyKey, e.Policy))
}

// AuthBlock is the event "auth_blocked": an address blocked after
// repeated AUTH failures (submission.auth_max_failures).
type AuthBlock struct {
	Remote string
	IP     string // the address (IPv6: its /64) that is blocked
	User   string // the login of the last attempt
}

// Name implements Event.
func (AuthBlock) Name() string { return AuthBlocked }

// Log implements Event.
func (e AuthBlock) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelWarn, AuthBlocked,
		slog.String(RemoteKey, e.Remote), slog.String(IPKey, e.IP), slog.String(UserKey, e.User))
}

// SPFNote is the event "spf" without a result: logged at start when SPF
// will not be checked, saying why (Warn when that needs the
// administrator's attention).
type SPFNote struct {
	Detail string
	Warn   bool
}

// Name implements Event.
func (SPFNote) Name() string { return SPF }

// Log implements Event.
func (e SPFNote) Log(log *slog.Logger) {
	level := slog.LevelInfo
	if e.Warn {
		level = slog.LevelWarn
	}
	logAttrs(log, level, SPF, slog.String(DetailKey, e.Detail))
}

// EgressAddrs is the event "egress": the addresses SPF is checked for.
type EgressAddrs struct {
	IPs       []string
	SPFPolicy string
}

// Name implements Event.
func (EgressAddrs) Name() string { return Egress }

// Log implements Event.
func (e EgressAddrs) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelInfo, Egress, slog.Any(IPsKey, e.IPs), slog.String(SPFPolicyKey, e.SPFPolicy))
}

// DMARCCheck is the event "dmarc": how a message's From: domain aligns
// with its envelope sender and signing domains (RFC 7489 section 3.1), at
// submission. Aligned is logged at Debug, anything else at Warn.
type DMARCCheck struct {
	Domain         string // the From: domain
	MailFromDomain string
	DKIMDomains    []string
	DKIMAligned    bool
	SPFAligned     bool
	Policy         string // delivery.spf_policy
	Record         string // where the record was found; "" when none was
	P              string // its p= policy
	Result         string // aligned, misaligned, none, temperror
	Detail         string
}

// Name implements Event.
func (DMARCCheck) Name() string { return DMARC }

// Log implements Event.
func (e DMARCCheck) Log(log *slog.Logger) {
	a := []slog.Attr{
		slog.String(DomainKey, e.Domain),
		slog.String(MailFromDomainKey, e.MailFromDomain),
		slog.Any(DKIMDomainsKey, e.DKIMDomains),
		slog.Bool(DKIMAlignedKey, e.DKIMAligned),
		slog.Bool(SPFAlignedKey, e.SPFAligned),
		slog.String(PolicyKey, e.Policy),
	}
	if e.Record != "" {
		a = append(a, slog.String(RecordKey, e.Record), slog.String(DMARCPolicyKey, e.P))
	}
	a = append(a, slog.String(ResultKey, e.Result))
	if e.Detail != "" {
		a = append(a, slog.String(DetailKey, e.Detail))
	}
	level := slog.LevelWarn
	if e.Result == "aligned" {
		level = slog.LevelDebug
	}
	logAttrs(log, level, DMARC, a...)
}
