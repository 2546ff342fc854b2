package queue

import (
	"fmt"
	"time"
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
	// Signatures are complete DKIM-Signature header fields, each ending in
	// CRLF, prepended to the stored message when it goes on the wire.
	Signatures []string `json:"signatures,omitempty"`
	// Received is when the message was accepted; zero means now.
	Received time.Time `json:"received"`
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
	NextAttempt time.Time `json:"next_attempt,omitzero"` // when State is Queued
	LastReply   string    `json:"last_reply,omitempty"`  // remote reply or local reason of the last attempt
}

// State is where a recipient's delivery stands.
type State int

// Recipient states. Delivered is an untyped constant shared with
// OutcomeKind, so that both Recipient.State == Delivered and
// Outcome{Kind: Delivered} read naturally.
const (
	Queued    State = 1 // waiting for its next attempt, or due
	Delivered       = 2 // a remote server accepted it (also an OutcomeKind)
	Bounced   State = 3 // failed permanently
	Expired   State = 4 // failed transiently until its lifetime passed
)

var stateNames = map[State]string{
	Queued:    "queued",
	Delivered: "delivered",
	Bounced:   "bounced",
	Expired:   "expired",
}

func (s State) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Final reports whether no further attempt will be made.
func (s State) Final() bool { return s == Delivered || s == Bounced || s == Expired }

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

// OutcomeKind classifies the result of one delivery attempt to one
// recipient. The transient/permanent decision itself (4xx versus 5xx, DNS
// SERVFAIL versus NXDOMAIN) is made by the delivery code.
type OutcomeKind int

// Outcome kinds besides Delivered (declared with the states).
const (
	Transient OutcomeKind = 10 // try again later (RFC 5321 section 4.2.1, 4yz)
	Permanent OutcomeKind = 11 // do not try again: bounce (5yz)
)

func (k OutcomeKind) String() string {
	switch k {
	case Delivered:
		return "delivered"
	case Transient:
		return "transient"
	case Permanent:
		return "permanent"
	}
	return fmt.Sprintf("OutcomeKind(%d)", int(k))
}

// Outcome is the result of one attempt for one recipient.
type Outcome struct {
	Rcpt  string
	Kind  OutcomeKind
	Reply string // remote reply or local reason, for logs and bounces
}
