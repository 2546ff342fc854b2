package tlsrpt

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// TestSendRetry: a report that failed for a reason that may pass (a
// temporary DNS failure, a queue that refused it) is kept in the store
// and queued at the next try with the counts it had; a domain without a
// _smtp._tls record is skipped for good.
func TestSendRetry(t *testing.T) {
	servfail := &net.DNSError{Err: "server misbehaving", Name: "_smtp._tls.x", IsTemporary: true}
	nxdomain := &net.DNSError{Err: "no such host", Name: "_smtp._tls.x", IsNotFound: true}
	record := []string{"v=TLSRPTv1; rua=mailto:tls@example.net"}
	tests := []struct {
		name      string
		lookupErr []error // per try
		queueErr  []error // per try
		noRecord  bool
		wantTries int // lookups made over two sends
		wantQueue bool
	}{
		{name: "lookup fails then succeeds", lookupErr: []error{servfail, nil}, wantTries: 2, wantQueue: true},
		{name: "queue fails then succeeds", queueErr: []error{errors.New("no space left on device"), nil}, wantTries: 2, wantQueue: true},
		{name: "no record", lookupErr: []error{nxdomain, nil}, noRecord: true, wantTries: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				s.Record(Session{Domain: "example.net", PolicyType: PolicyNone, MXHost: "mx.example.net"})
			}
			s.Record(Session{Domain: "example.net", PolicyType: PolicyNone, MXHost: "mx.example.net", Failure: ResultSTARTTLSNotSupported})
			start := s.state.Start
			lookups, queues := 0, 0
			var queued []string
			sender := &Sender{
				Store: s, Hostname: "relay.example.com", From: "tlsrpt@example.com",
				LookupTXT: func(context.Context, string) ([]string, error) {
					lookups++
					if lookups <= len(tc.lookupErr) && tc.lookupErr[lookups-1] != nil {
						return nil, tc.lookupErr[lookups-1]
					}
					if tc.noRecord {
						return nil, nil
					}
					return record, nil
				},
				Queue: func(_ string, _ []string, msg []byte) (string, error) {
					queues++
					if queues <= len(tc.queueErr) && tc.queueErr[queues-1] != nil {
						return "", tc.queueErr[queues-1]
					}
					queued = append(queued, string(msg))
					return "q1", nil
				},
				Log: slog.New(slog.DiscardHandler),
			}
			first := sender.Send(context.Background())
			if len(first) != 1 || first[0].QID != "" || first[0].Skipped == "" || first[0].Sessions != 4 {
				t.Fatalf("first send %+v: want example.net skipped with 4 sessions", first)
			}
			// The pending report survives a restart: the next try uses
			// a store opened afresh from the same folder.
			if sender.Store, err = Open(dir, nil); err != nil {
				t.Fatal(err)
			}
			// The hourly run does not try it again within the hour.
			tries := lookups
			if early := sender.send(context.Background(), SendEvery, false); len(early) != 0 || lookups != tries {
				t.Fatalf("the hourly run tried %+v within the hour", early)
			}
			second := sender.Send(context.Background())
			if lookups != tc.wantTries {
				t.Errorf("%d lookups, want %d", lookups, tc.wantTries)
			}
			if !tc.wantQueue {
				if len(second) != 0 || len(queued) != 0 {
					t.Errorf("second send %+v, queued %d: want nothing tried again", second, len(queued))
				}
				if !strings.Contains(first[0].Skipped, "no mailto:") || strings.Contains(first[0].Skipped, "tried again") {
					t.Errorf("skipped %q: want no mailto: and no retry", first[0].Skipped)
				}
				return
			}
			if !strings.Contains(first[0].Skipped, "tried again every hour") {
				t.Errorf("first send skipped %q: want it kept for another try", first[0].Skipped)
			}
			if len(second) != 1 || second[0].QID != "q1" || second[0].Skipped != "" || second[0].Sessions != 4 {
				t.Fatalf("second send %+v: want example.net queued as q1 with the 4 sessions", second)
			}
			if len(queued) != 1 {
				t.Fatalf("queued %d reports, want 1", len(queued))
			}
			rep := decodeQueuedReport(t, queued[0])
			if len(rep.Policies) != 1 || rep.Policies[0].Summary.Successful != 3 || rep.Policies[0].Summary.Failed != 1 {
				t.Errorf("report policies %+v: want the original 3 successful, 1 failed", rep.Policies)
			}
			if !rep.DateRange.Start.Equal(start.Truncate(time.Second)) {
				t.Errorf("report span starts %v, want the original %v", rep.DateRange.Start, start)
			}
			if third := sender.Send(context.Background()); len(third) != 0 {
				t.Errorf("third send %+v: want nothing left", third)
			}
		})
	}
}

// decodeQueuedReport reads the JSON report out of a queued report
// message.
func decodeQueuedReport(t *testing.T, raw string) Report {
	t.Helper()
	rep, err := ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestSendRetryGivesUp: a report still failing a day after its first
// try is dropped.
func TestSendRetryGivesUp(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	old := PendingReport{Domain: "example.net", Span: DateRange{Start: time.Now().Add(-49 * time.Hour), End: time.Now().Add(-25 * time.Hour)},
		Policies: []PolicyReport{{Policy: PolicyDesc{Type: PolicyNone, Domain: "example.net"}, Summary: Summary{Successful: 2}}},
		First:    time.Now().Add(-RetryFor - time.Minute)}
	if err := s.KeepPending([]PendingReport{old}); err != nil {
		t.Fatal(err)
	}
	sender := &Sender{
		Store: s, Hostname: "relay.example.com", From: "tlsrpt@example.com",
		LookupTXT: func(context.Context, string) ([]string, error) {
			return nil, &net.DNSError{Err: "i/o timeout", Name: "_smtp._tls.example.net", IsTimeout: true}
		},
		Queue: func(string, []string, []byte) (string, error) { return "", errors.New("not reached") },
		Log:   slog.New(slog.DiscardHandler),
	}
	sent := sender.Send(context.Background())
	if len(sent) != 1 || !strings.Contains(sent[0].Skipped, "given up") || sent[0].Sessions != 2 {
		t.Fatalf("sent %+v: want example.net given up", sent)
	}
	if left, err := s.TakePending(time.Now().Add(RetryFor)); err != nil || len(left) != 0 {
		t.Errorf("pending %+v, %v: want none left", left, err)
	}
}
