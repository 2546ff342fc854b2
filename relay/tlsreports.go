package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"dkimrelay/control"
	"dkimrelay/events"
	"dkimrelay/relay/ingest"
	"dkimrelay/tlsrpt"
)

// TLS reports: how often the counts are written and the reports sent.
const (
	tlsrptFlushEvery = time.Minute
	tlsrptSendEvery  = 24 * time.Hour
)

// startTLSReports keeps the session counts on disk every minute and sends
// the reports once a day while the relay runs ([tlsrpt] enabled).
func (r *Relay) startTLSReports() (stop func()) {
	if r.tlsrpt == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		flush, send := time.NewTicker(tlsrptFlushEvery), time.NewTicker(tlsrptSendEvery)
		defer flush.Stop()
		defer send.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-flush.C:
				if err := r.tlsrpt.Flush(); err != nil {
					r.log.Error(events.TLSReport, events.ErrorKey, err.Error())
				}
			case <-send.C:
				r.sendTLSReports(ctx)
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
		if err := r.tlsrpt.Flush(); err != nil {
			r.log.Error(events.TLSReport, events.ErrorKey, err.Error())
		}
	}
}

// sendTLSReports queues one report per policy domain gathered since the
// last run, for the mailto: addresses of its _smtp._tls record (RFC 8460
// section 3), signed and queued like any other message.
func (r *Relay) sendTLSReports(ctx context.Context) []control.TLSReportSent {
	span, byDomain, err := r.tlsrpt.Take()
	if err != nil {
		r.log.Error(events.TLSReport, events.ErrorKey, err.Error())
	}
	from := r.cfg.TLSRPT.From
	fromDomain := from[strings.LastIndexByte(from, '@')+1:]
	var out []control.TLSReportSent
	for _, domain := range slices.Sorted(maps.Keys(byDomain)) {
		pols := byDomain[domain]
		sent := control.TLSReportSent{Domain: domain}
		for _, p := range pols {
			sent.Sessions += p.Summary.Successful + p.Summary.Failed
		}
		txts, err := r.resolver.LookupTXT(ctx, "_smtp._tls."+domain)
		if sent.To = tlsrpt.Addresses(txts); len(sent.To) == 0 {
			sent.Skipped = "no mailto: address in a _smtp._tls." + domain + " record"
			if err != nil {
				sent.Skipped += " (" + err.Error() + ")"
			}
			out = append(out, sent)
			continue
		}
		rep := tlsrpt.Build(r.cfg.Hostname, "mailto:"+from, domain, span, pols)
		msg, err := tlsrpt.Message(from, sent.To, r.cfg.Hostname, domain, rep, time.Now())
		if err == nil {
			sent.QID, err = r.ingest.Accept(ingest.Message{
				From:  from,
				Rcpts: sent.To,
				Keys:  r.current.Load().Keys.Sending(fromDomain),
				Body:  bytes.NewReader(msg),
				Kind:  "tlsrpt",
			})
		}
		if err != nil {
			sent.Skipped = fmt.Sprintf("queueing the report failed: %v", err)
		}
		events.TLSReportSent{Domain: domain, To: sent.To, QID: sent.QID, Sessions: sent.Sessions, Skipped: sent.Skipped}.Log(r.log)
		out = append(out, sent)
	}
	return out
}

// registerTLSReports answers `dkimrelay tlsrpt send`.
func (r *Relay) registerTLSReports() {
	r.ctl.Handle("tlsrpt-send", func(ctx context.Context, _ json.RawMessage) (any, error) {
		if r.tlsrpt == nil {
			return nil, fmt.Errorf("TLS reports are off: set [tlsrpt] enabled = true and restart")
		}
		return r.sendTLSReports(ctx), nil
	})
}
