package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"dkimrelay/relay/ingest"
	"dkimrelay/tlsrpt"
)

// tlsReports is the sender of the TLS reports ([tlsrpt] enabled): it
// queues them through ingest, signed with the keys of the From domain in
// force.
func (r *Relay) tlsReports() *tlsrpt.Sender {
	from := r.cfg.TLSRPT.From
	fromDomain := from[strings.LastIndexByte(from, '@')+1:]
	return &tlsrpt.Sender{
		Store:     r.tlsrpt,
		Hostname:  r.cfg.Hostname,
		From:      from,
		LookupTXT: r.resolver.LookupTXT,
		Queue: func(from string, to []string, msg []byte) (string, error) {
			return r.ingest.Accept(ingest.Message{
				From:  from,
				Rcpts: to,
				Keys:  r.current.Load().Keys.Sending(fromDomain),
				Body:  bytes.NewReader(msg),
				Kind:  "tlsrpt",
			})
		},
		Log: r.log,
	}
}

// startTLSReports keeps the session counts on disk and sends the reports
// while the relay runs.
func (r *Relay) startTLSReports() (stop func()) {
	if r.tlsrpt == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { r.tlsReports().Run(ctx) })
	return func() { cancel(); wg.Wait() }
}

// registerTLSReports answers `dkimrelay tlsrpt send`.
func (r *Relay) registerTLSReports() {
	r.ctl.Handle("tlsrpt-send", func(ctx context.Context, _ json.RawMessage) (any, error) {
		if r.tlsrpt == nil {
			return nil, fmt.Errorf("TLS reports are off: set [tlsrpt] enabled = true and restart")
		}
		return r.tlsReports().Send(ctx), nil
	})
}
