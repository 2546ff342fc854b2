package control

import "time"

// The queue commands' wire types: what `dkimrelay queue ...` sends and the
// relay answers over the control socket.

// QueueMessage is one queued message as the control socket reports it to
// `dkimrelay queue list` and `queue show` (and their --json output).
type QueueMessage struct {
	QID      string           `json:"qid"`
	From     string           `json:"from"` // "" for a bounce (null sender)
	User     string           `json:"user,omitempty"`
	Class    string           `json:"class"` // the traffic class: transactional or bulk
	Received time.Time        `json:"received"`
	Size     int64            `json:"size"`
	Rcpts    []QueueRecipient `json:"rcpts"`
	// Headers is the message's header block as it goes on the wire (the
	// DKIM-Signature fields first), for `queue show` only.
	Headers string `json:"headers,omitempty"`
}

// QueueRecipient is one recipient of a QueueMessage.
type QueueRecipient struct {
	Addr string `json:"addr"`
	// State is queued (not tried yet), deferred (tried, failed for now,
	// waiting for its next attempt), delivered, bounced, expired, or suppressed
	// (on the suppression list: not delivered, no bounce).
	State       string     `json:"state"`
	Attempts    int        `json:"attempts"`
	NextAttempt *time.Time `json:"next_attempt,omitempty"` // while queued or deferred
	LastReply   string     `json:"last_reply,omitempty"`   // of the last attempt: why it was deferred, bounced, ...
}

// Waiting reports whether the recipient waits for an attempt: queued or
// deferred.
func (r QueueRecipient) Waiting() bool { return r.State == "queued" || r.State == "deferred" }

// QueueArgs are the arguments of the queue commands.
type QueueArgs struct {
	QID string `json:"qid,omitempty"`
	All bool   `json:"all,omitempty"` // queue.retry: every message
}

// QueueRetried is the result of queue.retry.
type QueueRetried struct {
	Messages int `json:"messages"` // messages made due now
}
