package events

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// TestRouteAndTLSLines pins the lines of delivery's route, outbound TLS
// and the MTA-STS cache, as TestLogLines does for the others.
func TestRouteAndTLSLines(t *testing.T) {
	tests := []struct {
		name  string
		event Event
		want  string
	}{
		{"no route", NoRouteFound{Reason: "null MX"}, `{"level":"DEBUG","msg":"no_route","reason":"null MX"}`},
		{"mx skipped", MXSkip{MX: "mx1.test", Reason: "not in the policy"}, `{"level":"INFO","msg":"mx_skipped","mx":"mx1.test","reason":"not in the policy"}`},
		{"mx next address", MXAddressFailure{MX: "mx1.test", Addr: "127.0.0.2", Reason: "refused"},
			`{"level":"DEBUG","msg":"mx_next_address","mx":"mx1.test","addr":"127.0.0.2","reason":"refused"}`},
		{"internal skipped", InternalAddressesSkip{MX: "mx1.test", Addrs: []string{"10.0.0.1"}},
			`{"level":"INFO","msg":"internal_addresses_skipped","mx":"mx1.test","addrs":["10.0.0.1"]}`},
		{"smarthost next", SmarthostAddressFailure{Addr: "127.0.0.3", Reason: "timeout"},
			`{"level":"DEBUG","msg":"smarthost_next_address","addr":"127.0.0.3","reason":"timeout"}`},
		{"smarthost auth", SmarthostAuthFailure{Smarthost: "smtp.test", User: "relay", Reply: "535 5.7.8 bad"},
			`{"level":"ERROR","msg":"smarthost_auth_failed","smarthost":"smtp.test","user":"relay","reply":"535 5.7.8 bad"}`},
		{"transaction", Transaction{MX: "mx1.test", Reply: "250 ok", TLS: "TLS1.3", Reused: true},
			`{"level":"DEBUG","msg":"transaction_done","mx":"mx1.test","reply":"250 ok","tls":"TLS1.3","reused":true}`},
		{"pooled closed", PooledSessionClosed{MX: "mx1.test"}, `{"level":"DEBUG","msg":"pooled_session_closed","mx":"mx1.test"}`},
		{"unreadable", UnreadableMessage{Err: errors.New("short read")}, `{"level":"ERROR","msg":"message_unreadable","error":"short read"}`},
		{"tls fallback", TLSFallbackPlaintext{MX: "mx1.test", Addr: "127.0.0.2", Err: errors.New("bad record")},
			`{"level":"WARN","msg":"tls_fallback_plaintext","mx":"mx1.test","addr":"127.0.0.2","error":"bad record"}`},
		{"starttls declined", STARTTLSDecline{MX: "mx1.test", Reply: "454 4.7.0 no"}, `{"level":"INFO","msg":"starttls_declined","mx":"mx1.test","reply":"454 4.7.0 no"}`},
		{"testing session", TLSPolicyTestingFailure{MX: "mx1.test", Addr: "127.0.0.2", Policy: "mta-sts-testing", Problem: "expired"},
			`{"level":"WARN","msg":"tls_policy_testing_failure","mx":"mx1.test","addr":"127.0.0.2","tls_policy":"mta-sts-testing","problem":"expired"}`},
		{"testing host", TLSPolicyTestingFailure{MX: "mx9.test", Policy: "mta-sts-testing", Problem: "not listed"},
			`{"level":"WARN","msg":"tls_policy_testing_failure","mx":"mx9.test","tls_policy":"mta-sts-testing","problem":"not listed"}`},
		{"sts fetched", MTASTSPolicyFetched{Domain: "d.test", ID: "1", Mode: "enforce", MaxAge: 24 * time.Hour},
			`{"level":"INFO","msg":"mta_sts_policy_fetched","domain":"d.test","id":"1","mode":"enforce","max_age":"24h0m0s"}`},
		{"sts fetch failed", MTASTSPolicyFetchFailure{Domain: "d.test", ID: "2", Err: errors.New("404"), Cached: true},
			`{"level":"WARN","msg":"mta_sts_policy_fetch_failed","domain":"d.test","id":"2","error":"404","cached":true}`},
		{"sts expired", MTASTSPolicyExpiry{Domain: "d.test", ID: "1"}, `{"level":"INFO","msg":"mta_sts_policy_expired","domain":"d.test","id":"1"}`},
		{"sts unsaved", MTASTSPolicyUnsaved{Domain: "d.test", Err: errors.New("disk full")},
			`{"level":"ERROR","msg":"mta_sts_policy_unsaved","domain":"d.test","error":"disk full"}`},
		{"sts damaged", MTASTSCacheDamaged{Domain: "d.test", File: "/d/mta-sts/d.test", Err: errors.New("bad json")},
			`{"level":"WARN","msg":"mta_sts_cache_damaged","domain":"d.test","file":"/d/mta-sts/d.test","error":"bad json"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, buf, _ := newCapture()
			tt.event.Log(log)
			if got := string(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))); got != tt.want {
				t.Errorf("line\n got %s\nwant %s", got, tt.want)
			}
			if tt.event.Name() == "" || !Known(tt.event.Name()) {
				t.Errorf("%T: name %q not listed", tt.event, tt.event.Name())
			}
		})
	}
}
