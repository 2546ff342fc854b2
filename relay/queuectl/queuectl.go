// Package queuectl serves the queue commands of the control socket
// (`dkimrelay queue list|show|retry|delete`): it answers with the wire
// types of package control and logs the administrator's actions.
package queuectl

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"dkimrelay/control"
	"dkimrelay/events"
	"dkimrelay/relay/queue"
)

// Register serves the queue commands on ctl for q. maxHeader bounds the
// header `queue show` reads (submission.max_header_size); log gets the
// administrator's actions (retry, deleted).
func Register(ctl *control.Server, q queue.Store, maxHeader int, log *slog.Logger) {
	ctl.Handle("queue.list", func(ctx context.Context, _ json.RawMessage) (any, error) {
		if err := q.WaitLoaded(ctx); err != nil {
			return nil, err
		}
		// Written message by message onto the socket: with 100,000
		// messages waiting the list is tens of megabytes of JSON.
		return control.Stream(func(w io.Writer) error {
			sep := "["
			err := q.Walk(func(m *queue.Message) error {
				b, err := json.Marshal(queueMessage(m))
				if err != nil {
					return err
				}
				if _, err := io.WriteString(w, sep); err != nil {
					return err
				}
				sep = ","
				_, err = w.Write(b)
				return err
			})
			if err != nil {
				return err
			}
			if sep == "[" {
				_, err = io.WriteString(w, "[]")
			} else {
				_, err = io.WriteString(w, "]")
			}
			return err
		}), nil
	})
	ctl.Handle("queue.show", func(ctx context.Context, raw json.RawMessage) (any, error) {
		m, err := loadedMessage(ctx, q, raw)
		if err != nil {
			return nil, err
		}
		out := queueMessage(m)
		h, err := readHeaders(q, m, maxHeader)
		if err != nil {
			return nil, err
		}
		out.Headers = h
		return out, nil
	})
	ctl.Handle("queue.retry", func(ctx context.Context, raw json.RawMessage) (any, error) {
		a, err := loadedArgs(ctx, q, raw)
		if err != nil {
			return nil, err
		}
		if a.All {
			n, err := q.RetryAll()
			if err != nil {
				return nil, err
			}
			events.RetryRequest{Messages: n}.Log(log)
			return control.QueueRetried{Messages: n}, nil
		}
		if err := q.Retry(a.QID); err != nil {
			return nil, notQueued(a.QID, err)
		}
		events.RetryRequest{QID: a.QID}.Log(log)
		return control.QueueRetried{Messages: 1}, nil
	})
	ctl.Handle("queue.delete", func(ctx context.Context, raw json.RawMessage) (any, error) {
		m, err := loadedMessage(ctx, q, raw)
		if err != nil {
			return nil, err
		}
		if err := q.Delete(m.ID); err != nil {
			return nil, notQueued(m.ID, err)
		}
		var pending []string
		for _, rc := range m.Rcpts {
			if rc.State.Pending() {
				pending = append(pending, rc.Addr)
			}
		}
		// An administrator's deletion is part of the message's story:
		// `dkimrelay logs --id QID` must show where it ended.
		events.Deletion{QID: m.ID, From: m.Envelope.From, Rcpts: pending, Reason: "deleted by the administrator (queue delete); no bounce sent"}.Log(log)
		return queueMessage(m), nil
	})
}

// loadedMessage is the message a command names, once the queue is loaded.
func loadedMessage(ctx context.Context, q queue.Store, raw json.RawMessage) (*queue.Message, error) {
	a, err := loadedArgs(ctx, q, raw)
	if err != nil {
		return nil, err
	}
	m, err := q.Get(a.QID)
	if err != nil {
		return nil, notQueued(a.QID, err)
	}
	return m, nil
}

// loadedArgs parses a command's arguments once the queue is loaded: right
// after a start it may still be loading, and the answer must be about the
// whole of it, not the part loaded so far.
func loadedArgs(ctx context.Context, q queue.Store, raw json.RawMessage) (control.QueueArgs, error) {
	var a control.QueueArgs
	if err := q.WaitLoaded(ctx); err != nil {
		return a, err
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &a); err != nil {
			return a, fmt.Errorf("malformed arguments: %w", err)
		}
	}
	if a.QID == "" && !a.All {
		return a, errors.New("no queue ID given: see `dkimrelay queue list`")
	}
	return a, nil
}

// notQueued turns the queue's not-found error into a sentence for the CLI.
func notQueued(qid string, err error) error {
	if errors.Is(err, queue.ErrNotFound) {
		return fmt.Errorf("no message %s in the queue (delivered, bounced or deleted already?): see `dkimrelay queue list` or `dkimrelay logs --id %s`", qid, qid)
	}
	return err
}

func queueMessage(m *queue.Message) control.QueueMessage {
	out := control.QueueMessage{
		QID:      m.ID,
		From:     m.Envelope.From,
		User:     m.Envelope.User,
		Class:    m.Envelope.TrafficClass(),
		Received: m.Envelope.Received,
		Size:     m.Size,
		Rcpts:    make([]control.QueueRecipient, len(m.Rcpts)),
	}
	for i, rc := range m.Rcpts {
		q := control.QueueRecipient{Addr: rc.Addr, State: rc.State.String(), Attempts: rc.Attempts, LastReply: rc.LastReply}
		if rc.State.Pending() && !rc.NextAttempt.IsZero() {
			t := rc.NextAttempt
			q.NextAttempt = &t
		}
		out.Rcpts[i] = q
	}
	return out
}

// readHeaders returns the header block of a queued message as it goes on
// the wire: its DKIM-Signature fields, then the stored header fields up to
// the blank line (RFC 5322 section 2.1). It reads no more than the
// configured header limit, so a message with a huge header cannot make the
// answer huge.
func readHeaders(q queue.Store, m *queue.Message, maxHeader int) (string, error) {
	f, err := q.OpenRaw(m.ID)
	if err != nil {
		return "", notQueued(m.ID, err)
	}
	defer f.Close()
	var b strings.Builder
	for _, s := range m.Envelope.Signatures {
		b.WriteString(s)
	}
	br := bufio.NewReader(io.LimitReader(f, int64(maxHeader)))
	for {
		line, err := br.ReadString('\n')
		if line == "\r\n" || line == "\n" {
			break
		}
		b.WriteString(line)
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("reading message %s: %w", m.ID, err)
		}
	}
	return b.String(), nil
}
