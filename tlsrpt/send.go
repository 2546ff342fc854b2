package tlsrpt

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"dkimrelay/control"
	"dkimrelay/events"
	"dkimrelay/resolver"
)

// How often the counts are written and the reports sent.
const (
	FlushEvery = time.Minute
	// SendEvery is the age of the counts' span at which they are
	// reported (checked at each flush).
	SendEvery = 24 * time.Hour
)

// Sender sends the reports the Counts gathered: one per policy domain,
// to the mailto: addresses of its _smtp._tls record (RFC 8460 section
// 3), signed and queued like any other message.
type Sender struct {
	Store    Counts
	Hostname string // the reporting MTA, the report's submitter
	From     string // [tlsrpt] from
	// LookupTXT asks DNS for the TXT records of a name.
	LookupTXT func(ctx context.Context, name string) ([]string, error)
	// Queue signs and queues one report message and returns its queue
	// ID.
	Queue func(from string, to []string, msg []byte) (qid string, err error)
	Log   *slog.Logger
}

// Run keeps the session counts every minute and sends the reports once
// their span is a day old, until ctx ends; then it keeps the counts a
// last time. With counts shared by several relays, one of them sends
// each day's reports.
func (s *Sender) Run(ctx context.Context) {
	flush := time.NewTicker(FlushEvery)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			s.flush()
			return
		case <-flush.C:
			s.flush()
			s.send(ctx, SendEvery, false)
		}
	}
}

func (s *Sender) flush() {
	if err := s.Store.Flush(); err != nil {
		s.Log.Error(events.TLSReport, events.ErrorKey, err.Error())
	}
}

// Send queues the reports gathered since the last run and says, for each
// policy domain, where its report went or why it was skipped.
func (s *Sender) Send(ctx context.Context) []control.TLSReportSent {
	return s.send(ctx, 0, true)
}

// send sends the reports waiting for another try (all of them with
// now, else those whose next try is due), then the counts when their
// span is at least age old.
func (s *Sender) send(ctx context.Context, age time.Duration, now bool) []control.TLSReportSent {
	pending, _ := s.Store.(Pending)
	var todo []PendingReport
	if pending != nil {
		due := time.Now()
		if now {
			due = due.Add(RetryFor)
		}
		ps, err := pending.TakePending(due)
		if err != nil {
			s.Log.Error(events.TLSReport, events.ErrorKey, err.Error())
		}
		todo = ps
	}
	span, byDomain, ok, err := s.Store.TakeDue(ctx, age)
	if err != nil {
		s.Log.Error(events.TLSReport, events.ErrorKey, err.Error())
	}
	if ok {
		now := time.Now().UTC()
		for _, domain := range slices.Sorted(maps.Keys(byDomain)) {
			todo = append(todo, PendingReport{Domain: domain, Span: span, Policies: byDomain[domain], First: now})
		}
	}
	var out []control.TLSReportSent
	var again []PendingReport
	for _, p := range todo {
		sent, retry := s.sendOne(ctx, p, pending != nil)
		if retry {
			p.Next = time.Now().Add(RetryEvery)
			again = append(again, p)
		}
		events.TLSReportSent{Domain: sent.Domain, To: sent.To, QID: sent.QID, Sessions: sent.Sessions, Skipped: sent.Skipped}.Log(s.Log)
		out = append(out, sent)
	}
	if pending != nil {
		if err := pending.KeepPending(again); err != nil {
			s.Log.Error(events.TLSReport, events.ErrorKey, err.Error())
		}
	}
	return out
}

// sendOne queues one domain's report; retry says it failed for a reason
// that may pass (a temporary DNS failure, a queue that refused it) and
// is worth another try every RetryEvery, until RetryFor has passed. A
// domain without a mailto: address in its _smtp._tls record is skipped
// for good.
func (s *Sender) sendOne(ctx context.Context, p PendingReport, canRetry bool) (sent control.TLSReportSent, retry bool) {
	sent = control.TLSReportSent{Domain: p.Domain}
	for _, pol := range p.Policies {
		sent.Sessions += pol.Summary.Successful + pol.Summary.Failed
	}
	canRetry = canRetry && time.Since(p.First) < RetryFor
	later := func() string {
		if canRetry {
			return "; kept, tried again every hour until " + p.First.Add(RetryFor).Format(time.RFC3339)
		}
		if time.Since(p.First) >= RetryFor {
			return "; given up: tried for a day"
		}
		return ""
	}
	txts, err := s.LookupTXT(ctx, "_smtp._tls."+p.Domain)
	if err != nil && resolver.IsTemporary(err) {
		sent.Skipped = fmt.Sprintf("looking up _smtp._tls.%s failed (%v)%s", p.Domain, err, later())
		return sent, canRetry
	}
	if sent.To = Addresses(txts); len(sent.To) == 0 {
		sent.Skipped = "no mailto: address in a _smtp._tls." + p.Domain + " record"
		if err != nil {
			sent.Skipped += " (" + err.Error() + ")"
		}
		return sent, false
	}
	rep := Build(s.Hostname, "mailto:"+s.From, p.Domain, p.Span, p.Policies)
	msg, err := Message(s.From, sent.To, s.Hostname, p.Domain, rep, time.Now())
	if err == nil {
		sent.QID, err = s.Queue(s.From, sent.To, msg)
	}
	if err != nil {
		sent.Skipped = fmt.Sprintf("queueing the report failed: %v%s", err, later())
		return sent, canRetry
	}
	return sent, false
}
