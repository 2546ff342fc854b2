// Package outcome is what one delivery attempt did for one recipient: the
// value delivery returns and the queue records. It lives apart from both
// so that neither depends on the other: delivery knows nothing of
// storage, the queue nothing of SMTP sessions.
//
// Whether a failure is transient or permanent is decided here, from the
// reply code (RFC 5321 section 4.2.1), or by delivery for failures that
// have no reply (DNS, network); the queue turns that status into the
// recipient's next state (delivered, deferred, bounced or expired).
package outcome

import (
	"fmt"
	"strconv"
)

// Status is how an attempt ended for a recipient.
type Status int

// Statuses. The zero value is Transient: an attempt whose result is
// unknown is tried again, the choice that cannot lose mail.
const (
	// Transient: try again later (4yz, network or DNS trouble).
	Transient Status = iota
	// Delivered: the next hop took responsibility (2yz after DATA).
	Delivered
	// Permanent: do not try again; bounce (5yz, NXDOMAIN, null MX).
	Permanent
	// Suppressed: not attempted, and not to be: the recipient is on the
	// suppression list (docs/deliverability.md). No bounce.
	Suppressed
)

func (s Status) String() string {
	switch s {
	case Transient:
		return "transient"
	case Delivered:
		return "delivered"
	case Permanent:
		return "permanent"
	case Suppressed:
		return "suppressed"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// OfCode classifies an SMTP reply code (RFC 5321 section 4.2.1): a
// positive one (2yz, or 3yz where a final reply was due) Delivered, 4yz
// Transient, 5yz and anything else Permanent.
func OfCode(code int) Status {
	switch code / 100 {
	case 2, 3:
		return Delivered
	case 4:
		return Transient
	}
	return Permanent
}

// Outcome is the result of one attempt for one recipient.
type Outcome struct {
	Rcpt   string
	Status Status
	// Code is the remote SMTP reply code; 0 when there was none (a DNS
	// or network failure).
	Code int
	// Enhanced is the RFC 3463 status for logs and bounces: the remote
	// one when it gave one, else one derived from the failure, e.g.
	// "5.1.2".
	Enhanced string
	// MX is the host that answered, or was tried last.
	MX string
	// TLS is the session's protocol version ("TLS1.3", "TLS1.2"), or ""
	// when it was not encrypted.
	TLS string
	// TLSPolicy is the outbound TLS policy the session was held to
	// ("none", "opportunistic", "mta-sts", "smarthost"...; see
	// docs/tls.md): always for a delivery; for a failure, when a policy
	// that can refuse applied.
	TLSPolicy string
	// Reply is the remote reply or the local reason, e.g.
	// "mx1.example.net said: 550 5.1.1 no such user".
	Reply string
}

// Local is the outcome of a failure that has no remote reply.
func Local(s Status, enhanced, reason string) Outcome {
	return Outcome{Status: s, Enhanced: enhanced, Reply: reason}
}

// Remote is the outcome of host's reply: its status follows the reply
// code; the enhanced code is the reply's, or the class of the code
// (RFC 3463 section 3.1) when it gave none.
func Remote(host string, code int, enhanced, text string) Outcome {
	if enhanced == "" {
		enhanced = strconv.Itoa(code/100) + ".0.0"
	}
	return Outcome{Status: OfCode(code), Code: code, Enhanced: enhanced, MX: host, Reply: host + " said: " + text}
}

// Retry is the same failure made Transient, its enhanced code in its
// 4.x.x form: for a failure that is the relay operator's to fix (a
// smarthost's refusal), which users' mail waits for rather than bounce.
func (o Outcome) Retry() Outcome {
	o.Status = Transient
	switch {
	case o.Enhanced == "":
		o.Enhanced = "4.0.0"
	case o.Enhanced[0] == '5':
		o.Enhanced = "4" + o.Enhanced[1:]
	}
	return o
}

// For is the outcome for each of rcpts: what happened to a group of
// recipients that shared one transaction or one route.
func (o Outcome) For(rcpts []string) []Outcome {
	out := make([]Outcome, len(rcpts))
	for i, r := range rcpts {
		out[i] = o
		out[i].Rcpt = r
	}
	return out
}
