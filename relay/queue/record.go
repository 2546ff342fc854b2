package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// recordVersion is the layout of the .json files; a change that older code
// cannot read bumps it.
const recordVersion = 1

// maxRecordSize bounds how much of a .json file Open reads: an envelope
// with hundreds of recipients and several signatures stays far below it.
const maxRecordSize = 8 << 20

// record is the content of a <qid>.json file and of a <qid>.msg file's
// trailer: the envelope and each
// recipient's delivery state. It is what Open trusts after a crash, so
// decodeRecord checks everything that later code relies on.
type record struct {
	Version    int         `json:"version"`
	ID         string      `json:"id"`
	From       string      `json:"from"`
	User       string      `json:"user"`
	Class      string      `json:"class,omitempty"` // "bulk"; "" is transactional
	Received   time.Time   `json:"received"`
	Size       int64       `json:"size"`
	Signatures []string    `json:"signatures"`
	Rcpts      []Recipient `json:"rcpts"`
	// RFC 8689: see Envelope.
	RequireTLS  bool `json:"require_tls,omitempty"`
	TLSOptional bool `json:"tls_optional,omitempty"`
	// SingleFile: the message is <qid>.msg, its bytes followed by the
	// trailer it was committed with (see trailer.go); a <qid>.json
	// beside it holds a later state and supersedes the trailer. Without
	// it the message is <qid>.eml, as written by earlier versions.
	SingleFile bool `json:"single_file,omitempty"`
}

// newRecord builds the record of a freshly committed message, every
// recipient queued and due at once.
func newRecord(id string, env Envelope, size int64, now time.Time) (*record, error) {
	r := &record{
		Version:    recordVersion,
		ID:         id,
		From:       env.From,
		User:       env.User,
		Class:      env.Class,
		Received:   env.Received,
		Size:       size,
		Signatures: slices.Clone(env.Signatures),

		RequireTLS:  env.RequireTLS,
		TLSOptional: env.TLSOptional,
	}
	if r.Received.IsZero() {
		r.Received = now
	}
	r.Received = r.Received.Round(0) // drop the monotonic reading; it means nothing on disk
	seen := make(map[string]bool, len(env.Rcpts))
	for _, a := range env.Rcpts {
		// RCPT TO may name an address twice (RFC 5321 section 3.3);
		// it is delivered once.
		if seen[a] {
			continue
		}
		seen[a] = true
		r.Rcpts = append(r.Rcpts, Recipient{Addr: a, State: Queued, NextAttempt: r.Received})
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	return r, nil
}

func encodeRecord(r *record) ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "\t")
	if err != nil {
		return nil, fmt.Errorf("queue: encoding envelope: %w", err)
	}
	return append(b, '\n'), nil
}

// decodeRecord parses and checks a .json file. It never panics, whatever
// the input (see FuzzDecodeEnvelope).
func decodeRecord(data []byte) (*record, error) {
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("queue: envelope is not valid JSON: %w", err)
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	for i := range r.Rcpts {
		// Written before the deferred state existed: a queued
		// recipient already tried is a deferred one.
		if rc := &r.Rcpts[i]; rc.State == Queued && rc.Attempts > 0 {
			rc.State = Deferred
		}
	}
	return &r, nil
}

// validate checks what delivery relies on: addresses that cannot smuggle
// SMTP commands (no CR, LF or other controls), signatures that are
// well-formed header fields, states that exist.
func (r *record) validate() error {
	switch {
	case r.Version != recordVersion:
		return fmt.Errorf("queue: envelope version %d, want %d", r.Version, recordVersion)
	case !ValidID(r.ID):
		return fmt.Errorf("queue: envelope has invalid queue ID %q", r.ID)
	case r.Received.IsZero():
		return errors.New("queue: envelope has no received time")
	case r.Size < 0:
		return errors.New("queue: envelope has a negative size")
	case len(r.Rcpts) == 0:
		return errors.New("queue: envelope has no recipients")
	case hasControl(r.From):
		return errors.New("queue: sender address contains control characters")
	case hasControl(r.User):
		return errors.New("queue: login contains control characters")
	case r.Class != "" && r.Class != ClassBulk:
		return fmt.Errorf("queue: unknown traffic class %q", r.Class)
	}
	for i, s := range r.Signatures {
		if err := checkHeaderField(s); err != nil {
			return fmt.Errorf("queue: signature %d: %w", i+1, err)
		}
	}
	seen := make(map[string]bool, len(r.Rcpts))
	for _, rc := range r.Rcpts {
		switch {
		case rc.Addr == "" || hasControl(rc.Addr):
			return fmt.Errorf("queue: invalid recipient address %q", rc.Addr)
		case seen[rc.Addr]:
			return fmt.Errorf("queue: recipient %q listed twice", rc.Addr)
		case !rc.State.valid():
			return fmt.Errorf("queue: recipient %q has no valid state", rc.Addr)
		case rc.Attempts < 0:
			return fmt.Errorf("queue: recipient %q has a negative attempt count", rc.Addr)
		}
		seen[rc.Addr] = true
	}
	return nil
}

func (r *record) rcpt(addr string) *Recipient {
	for i := range r.Rcpts {
		if r.Rcpts[i].Addr == addr {
			return &r.Rcpts[i]
		}
	}
	return nil
}

// due returns the earliest next attempt of a pending recipient, and false
// when no recipient is pending.
func (r *record) due() (time.Time, bool) {
	var t time.Time
	found := false
	for _, rc := range r.Rcpts {
		if rc.State.Pending() && (!found || rc.NextAttempt.Before(t)) {
			t, found = rc.NextAttempt, true
		}
	}
	return t, found
}

func (r *record) hasPending() bool {
	_, ok := r.due()
	return ok
}

// message returns a snapshot the caller may change freely.
func (r *record) message() *Message {
	m := &Message{
		ID: r.ID,
		Envelope: Envelope{
			From:       r.From,
			User:       r.User,
			Class:      r.Class,
			Signatures: slices.Clone(r.Signatures),
			Received:   r.Received,

			RequireTLS:  r.RequireTLS,
			TLSOptional: r.TLSOptional,
		},
		Size:  r.Size,
		Rcpts: make([]*Recipient, len(r.Rcpts)),
	}
	for i, rc := range r.Rcpts {
		m.Envelope.Rcpts = append(m.Envelope.Rcpts, rc.Addr)
		c := rc
		m.Rcpts[i] = &c
	}
	return m
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(c rune) bool { return c < 0x20 || c == 0x7f })
}

// checkHeaderField accepts one header field as RFC 5322 section 2.2 has
// it: a name of printable characters other than colon, a colon, a body
// whose lines all end in CRLF, continuation lines starting with space or
// tab (folding, section 2.2.3), and no bare CR or LF anywhere. Anything
// else, prepended to a message, would corrupt its header.
func checkHeaderField(s string) error {
	name, _, ok := strings.Cut(s, ":")
	if !ok || name == "" {
		return errors.New("not a header field: no name and colon")
	}
	for i := 0; i < len(name); i++ {
		if name[i] <= ' ' || name[i] > '~' {
			return errors.New("header field name has a character outside printable ASCII")
		}
	}
	if !strings.HasSuffix(s, "\r\n") {
		return errors.New("header field does not end in CRLF")
	}
	lines := strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n")
	for i, l := range lines {
		if strings.ContainsAny(l, "\r\n") {
			return errors.New("header field contains a bare CR or LF")
		}
		if i > 0 && (l == "" || (l[0] != ' ' && l[0] != '\t')) {
			return errors.New("header field continuation line does not start with white space")
		}
	}
	return nil
}

// bodyName is the name of the file holding r's message bytes: the first
// r.Size bytes of it.
func (r *record) bodyName() string {
	if r.SingleFile {
		return r.ID + ".msg"
	}
	return r.ID + ".eml"
}
