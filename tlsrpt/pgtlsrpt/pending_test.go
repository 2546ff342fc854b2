package pgtlsrpt

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"

	"dkimrelay/tlsrpt"
)

// TestPendingRetriedByTheCluster: a report whose _smtp._tls lookup
// failed temporarily on relay a, or that a could not queue, is kept in
// the cluster's database and queued with its original counts by relay
// b's next try; a domain without a record is skipped for good.
func TestPendingRetriedByTheCluster(t *testing.T) {
	servfail := &net.DNSError{Err: "server misbehaving", Name: "_smtp._tls.mx.test", IsTemporary: true}
	tests := []struct {
		name      string
		lookupErr error // of the first try
		queueErr  error // of the first try
		noRecord  bool
	}{
		{name: "lookup fails then succeeds", lookupErr: servfail},
		{name: "queue fails then succeeds", queueErr: errors.New("no space left on device")},
		{name: "no record", lookupErr: &net.DNSError{Err: "no such host", Name: "_smtp._tls.mx.test", IsNotFound: true}, noRecord: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dbs := openRelays(t, "a", "b")
			a, b := New(dbs[0]), New(dbs[1])
			a.Record(sts("mx.test", "mx1.mx.test", ""))
			a.Record(sts("mx.test", "mx1.mx.test", tlsrpt.ResultCertificateExpired))
			b.Record(sts("mx.test", "mx1.mx.test", ""))
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			lookups, queues := 0, 0
			sender := func(c *Counts) *tlsrpt.Sender {
				return &tlsrpt.Sender{
					Store: c, Hostname: "relay.example.com", From: "tlsrpt@example.com",
					LookupTXT: func(context.Context, string) ([]string, error) {
						lookups++
						if lookups == 1 && tc.lookupErr != nil {
							return nil, tc.lookupErr
						}
						if tc.noRecord {
							return nil, nil
						}
						return []string{"v=TLSRPTv1; rua=mailto:tls@mx.test"}, nil
					},
					Queue: func(string, []string, []byte) (string, error) {
						queues++
						if queues == 1 && tc.queueErr != nil {
							return "", tc.queueErr
						}
						return "q1", nil
					},
					Log: slog.New(slog.DiscardHandler),
				}
			}
			first := sender(a).Send(context.Background())
			if len(first) != 1 || first[0].QID != "" || first[0].Sessions != 3 {
				t.Fatalf("first send %+v: want mx.test skipped with 3 sessions", first)
			}
			second := sender(b).Send(context.Background())
			if tc.noRecord {
				if len(second) != 0 || lookups != 1 || strings.Contains(first[0].Skipped, "tried again") {
					t.Errorf("first %+v, second %+v, %d lookups: want no retry", first, second, lookups)
				}
				return
			}
			if !strings.Contains(first[0].Skipped, "tried again every hour") {
				t.Errorf("first send skipped %q: want it kept", first[0].Skipped)
			}
			if len(second) != 1 || second[0].QID != "q1" || second[0].Sessions != 3 {
				t.Fatalf("second send %+v: want mx.test queued as q1 with the original 3 sessions", second)
			}
			if third := sender(a).Send(context.Background()); len(third) != 0 {
				t.Errorf("third send %+v: want nothing left", third)
			}
		})
	}
}
