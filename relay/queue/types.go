package queue

import (
	"fmt"
	"time"

	"dkimrelay/relay/outcome"
)

// Envelope is what the relay knows about a message besides its bytes.
type Envelope struct {
	// From is the MAIL FROM address; "" is the null sender of a bounce
	// (RFC 5321 section 4.5.5).
	From string `json:"from"`
	// Rcpts are the RCPT TO addresses, in the order given.
	Rcpts []string `json:"rcpts"`
	// User is the submitting login, "" for messages the relay composed.
	User string `json:"user,omitempty"`
	// Class is the login's traffic class: "bulk", or "" for
	// transactional (see TrafficClass).
	Class string `json:"class,omitempty"`
	// Signatures are complete DKIM-Signature header fields, each ending in
	// CRLF, prepended to the stored message when it goes on the wire.
	Signatures []string `json:"signatures,omitempty"`
	// Received is when the message was accepted; zero means now.
	Received time.Time `json:"received"`
	// RequireTLS: submitted with MAIL FROM's REQUIRETLS (RFC 8689): it
	// goes only to authenticated servers over TLS that offer REQUIRETLS.
	RequireTLS bool `json:"require_tls,omitempty"`
	// TLSOptional: submitted with "TLS-Required: No" (RFC 8689 section
	// 5) and without REQUIRETLS: the receivers' TLS policies are not
	// enforced for it.
	TLSOptional bool `json:"tls_optional,omitempty"`
}

// The traffic classes as TrafficClass names them (docs/deliverability.md).
const (
	ClassTransactional = "transactional"
	ClassBulk          = "bulk"
)

// TrafficClass returns the message's traffic class: ClassBulk or
// ClassTransactional.
func (e Envelope) TrafficClass() string {
	if e.Class == ClassBulk {
		return ClassBulk
	}
	return ClassTransactional
}

// Message is a snapshot of a queued message. It is a copy: changing it
// changes nothing in the queue.
type Message struct {
	ID       string       `json:"id"`
	Envelope Envelope     `json:"envelope"`
	Size     int64        `json:"size"` // bytes of the stored message, without the signatures
	Rcpts    []*Recipient `json:"rcpts"`
}

// Recipient is one recipient of a message and where its delivery stands.
type Recipient struct {
	Addr        string    `json:"addr"`
	State       State     `json:"state"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt,omitzero"` // while State is Pending
	LastReply   string    `json:"last_reply,omitempty"`  // remote reply or local reason of the last attempt
}

// State is where a recipient's delivery stands.
type State int

// Recipient states.
const (
	Queued    State = 1 // not tried yet: due at its next attempt
	Delivered State = 2 // a remote server accepted it
	Bounced   State = 3 // failed permanently
	Expired   State = 4 // failed transiently until its lifetime passed
	// Deferred: tried, failed transiently, waiting for its next attempt
	// (what mailq calls deferred).
	Deferred State = 5
	// Suppressed: on the suppression list; not delivered, not bounced.
	Suppressed State = 6
)

var stateNames = map[State]string{
	Queued:    "queued",
	Deferred:  "deferred",
	Delivered: "delivered",
	Bounced:   "bounced",
	Expired:   "expired",

	Suppressed: "suppressed",
}

func (s State) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Pending reports whether the recipient waits for an attempt: queued or
// deferred.
func (s State) Pending() bool { return s == Queued || s == Deferred }

// Final reports whether no further attempt will be made.
func (s State) Final() bool {
	return s == Delivered || s == Bounced || s == Expired || s == Suppressed
}

// Failed reports whether the recipient failed for good, which a bounce
// reports: bounced or expired.
func (s State) Failed() bool { return s == Bounced || s == Expired }

func (s State) valid() bool { _, ok := stateNames[s]; return ok }

// MarshalText writes the state's name, as stored in the .json files and
// shown by the control socket.
func (s State) MarshalText() ([]byte, error) {
	if !s.valid() {
		return nil, fmt.Errorf("queue: invalid recipient state %d", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText reads a state's name.
func (s *State) UnmarshalText(b []byte) error {
	for st, n := range stateNames {
		if string(b) == n {
			*s = st
			return nil
		}
	}
	return fmt.Errorf("queue: unknown recipient state %q", b)
}

// Change is a recipient's new state after an attempt, with the outcome
// that led to it: what the relay logs and bounces from.
type Change struct {
	Recipient
	Outcome outcome.Outcome
}

// Due lists the pending recipients whose next attempt has come by now:
// the ones an attempt on m tries.
func (m *Message) Due(now time.Time) []string {
	var due []string
	for _, rc := range m.Rcpts {
		if rc.State.Pending() && !rc.NextAttempt.After(now) {
			due = append(due, rc.Addr)
		}
	}
	return due
}
