package events

import "log/slog"

// The events of outbound TLS (docs/tls.md).
const (
	TLSFallback           = "tls_fallback_plaintext"     // opportunistic TLS: the handshake failed, the address is tried again in plaintext
	STARTTLSDeclined      = "starttls_declined"          // the server offered STARTTLS, then declined it: plaintext (RFC 3207 section 4)
	TLSPolicyTestingFault = "tls_policy_testing_failure" // a policy in testing mode would have refused the host or session

	ProblemKey = "problem" // tls_policy_testing_failure: what the policy would have refused
)

// TLSFallbackPlaintext is the event "tls_fallback_plaintext".
type TLSFallbackPlaintext struct {
	MX   string
	Addr string
	Err  error
}

// Name implements Event.
func (TLSFallbackPlaintext) Name() string { return TLSFallback }

// Log implements Event.
func (e TLSFallbackPlaintext) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelWarn, TLSFallback,
		slog.String(MXKey, e.MX), slog.String(AddrKey, e.Addr), slog.String(ErrorKey, e.Err.Error()))
}

// STARTTLSDecline is the event "starttls_declined".
type STARTTLSDecline struct {
	MX    string
	Reply string
}

// Name implements Event.
func (STARTTLSDecline) Name() string { return STARTTLSDeclined }

// Log implements Event.
func (e STARTTLSDecline) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelInfo, STARTTLSDeclined, slog.String(MXKey, e.MX), slog.String(ReplyKey, e.Reply))
}

// TLSPolicyTestingFailure is the event "tls_policy_testing_failure": the
// message went ahead, as a policy in testing mode asks. Addr is "" when
// the MX host itself is outside the policy.
type TLSPolicyTestingFailure struct {
	MX      string
	Addr    string
	Policy  string
	Problem string
}

// Name implements Event.
func (TLSPolicyTestingFailure) Name() string { return TLSPolicyTestingFault }

// Log implements Event.
func (e TLSPolicyTestingFailure) Log(log *slog.Logger) {
	a := []slog.Attr{slog.String(MXKey, e.MX)}
	if e.Addr != "" {
		a = append(a, slog.String(AddrKey, e.Addr))
	}
	a = append(a, slog.String(TLSPolicyKey, e.Policy), slog.String(ProblemKey, e.Problem))
	logAttrs(log, slog.LevelWarn, TLSPolicyTestingFault, a...)
}
