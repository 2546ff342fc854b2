// Package ingest is the one way into the queue. Every message the relay
// queues, whether an application submitted it or the relay wrote it itself
// (a bounce, a report), goes through Accept: it is DKIM-signed with the keys
// in force while it streams to the spool, made durable (written and
// fsync'd) and logged as one `accepted` event. See docs/architecture.md.
package ingest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"dkimrelay/dkim"
	"dkimrelay/events"
	"dkimrelay/internal/bufpool"
	"dkimrelay/relay/dedup"
	"dkimrelay/relay/queue"
)

// bufferSize is the size of the buffer a message's body passes through on
// its way to the spool and the signer: large enough that a notification
// passes in one piece.
const bufferSize = 32 << 10

// Ingest signs and spools messages into one queue. It is safe for
// concurrent use.
type Ingest struct {
	queue queue.Store
	log   *slog.Logger
	now   func() time.Time

	// writers recycles the body buffers from one message to the next.
	writers *bufpool.Pool[*bufio.Writer, io.Writer]

	// dups, when set, recognises a submitted message queued already
	// within the duplicate window (see SetDuplicates).
	dups dedup.Window
}

// SetDuplicates makes Accept answer a submitted message identical to one
// in dups with the first one's queue ID instead of queueing it again (see
// docs/deliverability.md, "Duplicate window"). Call it before the first
// Accept.
func (in *Ingest) SetDuplicates(dups dedup.Window) { in.dups = dups }

// claimTimeout bounds the wait for an identical message being queued at
// the same moment; past it, the message is queued on its own.
const claimTimeout = 30 * time.Second

// New returns an Ingest that queues into q and logs to log.
func New(q queue.Store, log *slog.Logger) *Ingest {
	return &Ingest{queue: q, log: log, now: time.Now,
		writers: bufpool.New(func(w io.Writer) *bufio.Writer { return bufio.NewWriterSize(w, bufferSize) })}
}

// Message is one message to queue, with its envelope.
type Message struct {
	// From is the envelope sender; "" is the null sender of a bounce
	// (RFC 5321 section 4.5.5).
	From  string
	Rcpts []string
	// User is the login that submitted the message, "" for the relay's
	// own mail.
	User string
	// Class is the login's traffic class ("bulk"); "" and
	// "transactional" are transactional, as is the relay's own mail.
	Class string
	// Keys sign the message (one DKIM-Signature each), taken from one
	// Keyring so that they are all of the same moment. With none the
	// message is queued unsigned.
	Keys []dkim.Key
	// Header is the message's header, already read (and completed, for
	// submitted mail) by the caller; nil makes Accept read it from Body.
	Header *dkim.Header
	// Body is the rest of the message, streamed: it is read once, in
	// chunks, so memory stays bounded whatever its size.
	Body io.Reader
	// Remote is the submitting client's address, "" for the relay's own
	// mail.
	Remote string
	// Kind is what the relay's own mail is ("bounce"), "" for submitted
	// mail; OrigQID is the message a bounce is about.
	Kind    string
	OrigQID string
	// RequireTLS and TLSOptional go to the envelope (see queue.Envelope).
	RequireTLS, TLSOptional bool
}

// Accept signs m and queues it durably, and returns its queue ID. When it
// returns nil the message and its signatures are on disk and fsync'd, so
// the caller may acknowledge it; on error nothing is queued. A submitted
// message identical to one queued within the duplicate window is not
// queued: Accept returns the first one's queue ID and logs `duplicate`. The error
// names the step that failed; an error of m.Body is wrapped, so that its
// own kind (a client's protocol error) can be told from a local fault
// with errors.As, and a full disk wraps queue.ErrNoSpace.
func (in *Ingest) Accept(m Message) (qid string, err error) {
	h, body := m.Header, m.Body
	if h == nil {
		br := bufio.NewReader(m.Body)
		if h, err = dkim.ReadHeader(br, 0); err != nil {
			return "", fmt.Errorf("reading the header: %w", err)
		}
		body = br
	}
	draft, err := in.queue.NewSpool()
	if err != nil {
		return "", fmt.Errorf("opening the queue: %w", err)
	}
	defer draft.Abort() // does nothing once committed
	var signer *dkim.Signer
	if len(m.Keys) > 0 {
		if signer, err = dkim.NewSigner(m.Keys, h); err != nil {
			return "", fmt.Errorf("starting the DKIM signer: %w", err)
		}
	}
	var fp *dedup.Fingerprint
	if in.dups != nil && m.User != "" {
		fp = dedup.NewFingerprint(dedup.Identity{User: m.User, From: m.From, Rcpts: m.Rcpts}, h)
	}
	size, err := in.spool(draft, signer, fp, h, body)
	if err != nil {
		if signer != nil {
			signer.Sign() // ends the signer's hashing; nothing to sign
		}
		if fp != nil {
			fp.Close()
		}
		return "", fmt.Errorf("spooling: %w", err)
	}
	if fp != nil {
		first, claim := in.lookup(fp.Sum())
		if first != "" {
			if signer != nil {
				signer.Sign() // ends the signer's hashing; nothing to sign
			}
			events.Duplicate{QID: first, User: m.User, Remote: m.Remote}.Log(in.log)
			return first, nil
		}
		if claim != nil {
			joined := false
			if j, ok := draft.(claimJoiner); ok {
				joined = j.JoinClaim(claim)
			}
			defer func() {
				if joined && err == nil {
					return // ended by the commit
				}
				if err := claim.Done(qid); err != nil {
					in.log.Warn(events.DuplicateIndex, events.QIDKey, qid, events.ErrorKey, err.Error(),
						events.DetailKey, "the message is queued; a retry of it may be queued again")
				}
			}()
		}
	}
	var sigs []string
	var signTime time.Duration
	if signer != nil {
		signStart := time.Now()
		sigs, err = signer.Sign()
		signTime = time.Since(signStart) // the signatures alone: the body was hashed while it was spooled
		if err != nil {
			return "", fmt.Errorf("signing: %w", err)
		}
	}
	env := queue.Envelope{
		From:       m.From,
		Rcpts:      append([]string(nil), m.Rcpts...),
		User:       m.User,
		Class:      bulkOnly(m.Class),
		Signatures: sigs,
		Received:   in.now(),

		RequireTLS:  m.RequireTLS,
		TLSOptional: m.TLSOptional && !m.RequireTLS,
	}
	// Logged once the message is durable, and before a worker can take
	// it: `logs --id` then tells the story in order.
	accepted := func() {
		events.Acceptance{QID: draft.ID(), User: m.User, Class: env.TrafficClass(), Unsubscribe: oneClick(env, h, sigs), From: m.From, Rcpts: env.Rcpts, Size: size,
			DKIM: dkim.Selectors(m.Keys), SignTime: signTime, Remote: m.Remote, Kind: m.Kind, OrigQID: m.OrigQID}.Log(in.log)
	}
	if err := draft.CommitThen(env, accepted); err != nil {
		return "", fmt.Errorf("writing the queue: %w", err)
	}
	return draft.ID(), nil
}

// claimJoiner is a spool that can end a claim of the duplicate window in
// the transaction that commits the message (the cluster's queue, for the
// window in the same database): one round trip fewer. JoinClaim reports
// whether it took the claim; a failed commit leaves it to the caller.
type claimJoiner interface {
	JoinClaim(c dedup.Claim) bool
}

// oneClick says, for bulk mail, whether it carries both RFC 8058 one-click
// unsubscribe fields under its signatures (the signer covers both when
// they are there), which Gmail and Yahoo require of bulk senders; "" for
// other mail.
func oneClick(env queue.Envelope, h *dkim.Header, sigs []string) events.Unsubscribe {
	if env.TrafficClass() != queue.ClassBulk {
		return ""
	}
	if len(sigs) > 0 && h.Has("List-Unsubscribe") && h.Has("List-Unsubscribe-Post") {
		return events.UnsubscribeSigned
	}
	return events.UnsubscribeMissing
}

// bulkOnly keeps the class a queued envelope records: only "bulk", the
// default being transactional.
func bulkOnly(class string) string {
	if class == queue.ClassBulk {
		return class
	}
	return ""
}

// lookup asks the duplicate index for k: the first message's queue ID, or
// a claim to end once this one is queued. Past claimTimeout it gives
// neither, and the message is queued as if new.
func (in *Ingest) lookup(k dedup.Key) (first string, claim dedup.Claim) {
	ctx, cancel := context.WithTimeout(context.Background(), claimTimeout)
	defer cancel()
	first, claim, err := in.dups.Lookup(ctx, k)
	if err != nil {
		return "", nil
	}
	return first, claim
}

// spool writes the header to the draft and the body to the draft, the
// signer (which hashed the header already, in NewSigner) and the
// fingerprint, those that are not nil, and returns the message's size.
func (in *Ingest) spool(draft queue.Spool, signer *dkim.Signer, fp *dedup.Fingerprint, h *dkim.Header, body io.Reader) (int64, error) {
	if _, err := h.WriteTo(draft); err != nil {
		return 0, err
	}
	var w io.Writer = draft
	switch {
	case signer != nil && fp != nil:
		w = io.MultiWriter(draft, signer, fp)
	case signer != nil:
		w = io.MultiWriter(draft, signer)
	case fp != nil:
		w = io.MultiWriter(draft, fp)
	}
	bw := in.writers.Get(w)
	defer in.writers.Put(bw)
	n, err := io.Copy(bw, body)
	if err == nil {
		err = bw.Flush()
	}
	return int64(h.Len()) + n, err
}
