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
			s.send(ctx, SendEvery)
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
	return s.send(ctx, 0)
}

// send sends the reports when their span is at least age old.
func (s *Sender) send(ctx context.Context, age time.Duration) []control.TLSReportSent {
	span, byDomain, ok, err := s.Store.TakeDue(ctx, age)
	if err != nil {
		s.Log.Error(events.TLSReport, events.ErrorKey, err.Error())
	}
	if !ok {
		return nil
	}
	var out []control.TLSReportSent
	for _, domain := range slices.Sorted(maps.Keys(byDomain)) {
		pols := byDomain[domain]
		sent := control.TLSReportSent{Domain: domain}
		for _, p := range pols {
			sent.Sessions += p.Summary.Successful + p.Summary.Failed
		}
		txts, err := s.LookupTXT(ctx, "_smtp._tls."+domain)
		if sent.To = Addresses(txts); len(sent.To) == 0 {
			sent.Skipped = "no mailto: address in a _smtp._tls." + domain + " record"
			if err != nil {
				sent.Skipped += " (" + err.Error() + ")"
			}
			out = append(out, sent)
			continue
		}
		rep := Build(s.Hostname, "mailto:"+s.From, domain, span, pols)
		msg, err := Message(s.From, sent.To, s.Hostname, domain, rep, time.Now())
		if err == nil {
			sent.QID, err = s.Queue(s.From, sent.To, msg)
		}
		if err != nil {
			sent.Skipped = fmt.Sprintf("queueing the report failed: %v", err)
		}
		events.TLSReportSent{Domain: domain, To: sent.To, QID: sent.QID, Sessions: sent.Sessions, Skipped: sent.Skipped}.Log(s.Log)
		out = append(out, sent)
	}
	return out
}
