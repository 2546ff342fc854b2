package events

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"reflect"
	"testing"
	"time"
)

// capture is a handler that keeps the records it gets and writes them as
// the relay's log does, without the time.
type capture struct {
	slog.Handler
	records *[]slog.Record
}

func (c capture) Handle(ctx context.Context, r slog.Record) error {
	*c.records = append(*c.records, r.Clone())
	return c.Handler.Handle(ctx, r)
}

func (c capture) WithAttrs(as []slog.Attr) slog.Handler {
	return capture{c.Handler.WithAttrs(as), c.records}
}

func newCapture() (*slog.Logger, *bytes.Buffer, *[]slog.Record) {
	var buf bytes.Buffer
	var records []slog.Record
	h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	return slog.New(capture{h, &records}), &buf, &records
}

// TestLogLines pins each event's line, field by field and in order: the
// log is read by administrators' scripts (README.md, "Logs"), so these
// bytes only ever gain fields.
func TestLogLines(t *testing.T) {
	next := time.Date(2026, 11, 2, 12, 1, 0, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		name  string
		event Event
		want  string
	}{
		{"connect", Connection{Remote: "192.0.2.1:5000", Local: "127.0.0.1:587"},
			`{"level":"INFO","msg":"connect","remote":"192.0.2.1:5000","local":"127.0.0.1:587"}`},
		{"auth ok", AuthAttempt{User: "app", Mechanism: "PLAIN", OK: true, Remote: "192.0.2.1:5000", Helo: "web"},
			`{"level":"INFO","msg":"auth","user":"app","mechanism":"PLAIN","result":"ok","remote":"192.0.2.1:5000","helo":"web"}`},
		{"auth cached failure", AuthAttempt{User: "app", Mechanism: "LOGIN", Remote: "r", Helo: "h", Cached: true},
			`{"level":"INFO","msg":"auth","user":"app","mechanism":"LOGIN","result":"failed","remote":"r","helo":"h","cached":true}`},
		{"rejected sender", Rejection{Code: 550, Reason: "Sender <a@x> is not allowed for login app", Remote: "r", From: "a@x", User: "app"},
			`{"level":"INFO","msg":"rejected","code":550,"reason":"Sender <a@x> is not allowed for login app","remote":"r","from":"a@x","user":"app"}`},
		{"rejected rcpt", Rejection{Code: 501, Reason: "bad", Remote: "r", Rcpt: "b"},
			`{"level":"INFO","msg":"rejected","code":501,"reason":"bad","remote":"r","rcpt":"b"}`},
		{"rejected blocked", Rejection{Level: slog.LevelWarn, Code: 421, Reason: "address blocked after repeated AUTH failures", Remote: "r", Until: next},
			`{"level":"WARN","msg":"rejected","code":421,"reason":"address blocked after repeated AUTH failures","remote":"r","until":"2026-11-02T11:01:00Z"}`},
		{"rejected repeated", Rejection{Code: 530, Reason: "Authentication required", Remote: "r", Repeated: 19995},
			`{"level":"INFO","msg":"rejected","code":530,"reason":"Authentication required","remote":"r","repeated":19995}`},
		{"accepted", Acceptance{QID: "Q1", User: "app", From: "a@x", Rcpts: []string{"b@y", "c@y"}, Size: 4096, DKIM: []string{"s1", "s2"}, SignTime: 1500 * time.Microsecond, Remote: "r"},
			`{"level":"INFO","msg":"accepted","qid":"Q1","user":"app","from":"a@x","rcpts":["b@y","c@y"],"size":4096,"dkim":["s1","s2"],"sign_time":"1.5ms","remote":"r"}`},
		{"accepted bounce", Acceptance{QID: "Q2", Rcpts: []string{"a@x"}, Size: 900, Kind: "bounce", OrigQID: "Q1"},
			`{"level":"INFO","msg":"accepted","qid":"Q2","user":"","from":"","rcpts":["a@x"],"size":900,"dkim":[],"kind":"bounce","orig_qid":"Q1"}`},
		{"delivered", Delivery{QID: "Q1", Rcpt: "b@y", MX: "mx.y", TLS: "TLS1.3", TLSPolicy: "mta-sts", Code: 250, Delay: 1234567 * time.Microsecond, Reply: "mx.y said: 250 ok"},
			`{"level":"INFO","msg":"delivered","qid":"Q1","rcpt":"b@y","mx":"mx.y","tls":"TLS1.3","tls_policy":"mta-sts","code":250,"delay":"1.235s","reply":"mx.y said: 250 ok"}`},
		{"delivered in the clear", Delivery{QID: "Q1", Rcpt: "b@y", MX: "mx.y", Code: 250, Delay: 2 * time.Second},
			`{"level":"INFO","msg":"delivered","qid":"Q1","rcpt":"b@y","mx":"mx.y","tls":"none","tls_policy":"none","code":250,"delay":"2s","reply":""}`},
		{"deferred", Deferral{QID: "Q1", Rcpt: "c@y", MX: "mx.y", Code: 451, Reason: "try later", NextAttempt: next},
			`{"level":"INFO","msg":"deferred","qid":"Q1","rcpt":"c@y","mx":"mx.y","code":451,"reason":"try later","next_attempt":"2026-11-02T11:01:00Z"}`},
		{"deferred by a policy", Deferral{QID: "Q1", Rcpt: "c@y", MX: "mx.y", Reason: "mx.y[192.0.2.1] does not offer STARTTLS", NextAttempt: next, TLSPolicy: "mta-sts"},
			`{"level":"INFO","msg":"deferred","qid":"Q1","rcpt":"c@y","mx":"mx.y","code":0,"reason":"mx.y[192.0.2.1] does not offer STARTTLS","next_attempt":"2026-11-02T11:01:00Z","tls_policy":"mta-sts"}`},
		{"bounced", Bounce{QID: "Q1", Rcpt: "c@y", MX: "mx.y", Code: 550, Reason: "no such user"},
			`{"level":"INFO","msg":"bounced","qid":"Q1","rcpt":"c@y","mx":"mx.y","code":550,"reason":"no such user"}`},
		{"bounced under a policy", Bounce{QID: "Q1", Rcpt: "c@y", MX: "mx.y", Code: 550, Reason: "no such user", TLSPolicy: "dane"},
			`{"level":"INFO","msg":"bounced","qid":"Q1","rcpt":"c@y","mx":"mx.y","code":550,"reason":"no such user","tls_policy":"dane"}`},
		{"expired", Expiry{QID: "Q1", Rcpt: "c@y", Reason: "try later", Delay: 120 * time.Hour},
			`{"level":"INFO","msg":"expired","qid":"Q1","rcpt":"c@y","reason":"try later","delay":"120h0m0s"}`},
		{"deleted", Deletion{QID: "Q1", From: "a@x", Rcpts: []string{"c@y"}, Reason: "deleted by the administrator"},
			`{"level":"INFO","msg":"deleted","qid":"Q1","from":"a@x","rcpts":["c@y"],"reason":"deleted by the administrator"}`},
		{"deleted, none pending", Deletion{QID: "Q1", From: "a@x", Reason: "gone"},
			`{"level":"INFO","msg":"deleted","qid":"Q1","from":"a@x","rcpts":null,"reason":"gone"}`},
		{"spf pass", SPFCheck{Domain: "x", IP: "192.0.2.1", Result: "pass", Detail: "matched ip4", Policy: "reject"},
			`{"level":"INFO","msg":"spf","domain":"x","ip":"192.0.2.1","result":"pass","detail":"matched ip4","cached":false,"policy":"reject"}`},
		{"spf fail", SPFCheck{Domain: "x", IP: "192.0.2.1", Result: "fail", Cached: true, Policy: "warn"},
			`{"level":"WARN","msg":"spf","domain":"x","ip":"192.0.2.1","result":"fail","detail":"","cached":true,"policy":"warn"}`},
		{"started", Start{Listen: []string{"127.0.0.1:587"}, Hostname: "mail.example.org", Mode: "mx"},
			`{"level":"INFO","msg":"started","listen":["127.0.0.1:587"],"hostname":"mail.example.org","mode":"mx"}`},
		{"reload ok", ReloadResult{}, `{"level":"INFO","msg":"reload","result":"ok"}`},
		{"reload failed", ReloadResult{Err: errors.New("users.toml: damaged")}, `{"level":"ERROR","msg":"reload","error":"users.toml: damaged"}`},
		{"key damaged", KeyDamage{Err: errors.New("k.pem is readable")}, `{"level":"ERROR","msg":"key_damaged","error":"k.pem is readable"}`},
		{"no active key", MissingKey{Domain: "example.org"},
			"{\"level\":\"WARN\",\"msg\":\"no_active_key\",\"domain\":\"example.org\",\"detail\":\"mail from this domain is refused until a key is active: see `dkimrelay keys list`\"}"},
		{"data dir permissions", OpenDataDir{Dir: "/d", Mode: fs.ModeDir | 0o755},
			`{"level":"WARN","msg":"data_dir_permissions","dir":"/d","mode":"0755","detail":"the data dir holds the queue, the DKIM keys and the logins: run chmod 700 /d"}`},
		{"queue damaged", QueueDamage{QID: "Q1", Reason: "bad envelope", MovedTo: "/q/damaged"},
			`{"level":"ERROR","msg":"queue_damaged","qid":"Q1","reason":"bad envelope","moved_to":"/q/damaged"}`},
		{"queue damaged, not moved", QueueDamage{QID: "Q1", Reason: "bad envelope", Err: errors.New("EROFS")},
			`{"level":"ERROR","msg":"queue_damaged","qid":"Q1","reason":"bad envelope","error":"could not move it aside: EROFS"}`},
		{"retry one", RetryRequest{QID: "Q1"}, `{"level":"INFO","msg":"retry","qid":"Q1"}`},
		{"retry all", RetryRequest{Messages: 3}, `{"level":"INFO","msg":"retry","messages":3}`},
		{"queue failure", QueueFailure{Err: errors.New("closed")}, `{"level":"ERROR","msg":"queue","error":"closed"}`},
		{"tlsrpt", TLSReportSent{Domain: "example.net", To: []string{"tlsrpt@example.net"}, QID: "Q9", Sessions: 12},
			`{"level":"INFO","msg":"tlsrpt","domain":"example.net","to":["tlsrpt@example.net"],"qid":"Q9","sessions":12,"skipped":""}`},
		{"queue failure with a detail", QueueFailure{Err: errors.New("db"), Detail: "delivery waits"}, `{"level":"ERROR","msg":"queue","error":"db","detail":"delivery waits"}`},
		{"queue failure of a message", QueueFailure{QID: "Q1", Err: errors.New("disk")}, `{"level":"ERROR","msg":"queue","qid":"Q1","error":"disk"}`},
		{"bounce failed", BounceFailure{QID: "Q1", Err: errors.New("disk")}, `{"level":"ERROR","msg":"bounce_failed","qid":"Q1","error":"disk"}`},
		{"auth blocked", AuthBlock{Remote: "192.0.2.1:5000", IP: "192.0.2.1", User: "app"},
			`{"level":"WARN","msg":"auth_blocked","remote":"192.0.2.1:5000","ip":"192.0.2.1","user":"app"}`},
		{"spf note", SPFNote{Detail: "smarthost mode"}, `{"level":"INFO","msg":"spf","detail":"smarthost mode"}`},
		{"spf warning", SPFNote{Detail: "behind NAT", Warn: true}, `{"level":"WARN","msg":"spf","detail":"behind NAT"}`},
		{"egress", EgressAddrs{IPs: []string{"192.0.2.25"}, SPFPolicy: "reject"}, `{"level":"INFO","msg":"egress","ips":["192.0.2.25"],"spf_policy":"reject"}`},
		{"dmarc none", DMARCCheck{Domain: "x", MailFromDomain: "x", DKIMDomains: []string{"x"}, DKIMAligned: true, SPFAligned: true, Policy: "reject", Result: "none", Detail: "no record"},
			`{"level":"WARN","msg":"dmarc","domain":"x","mail_from_domain":"x","dkim_domains":["x"],"dkim_aligned":true,"spf_aligned":true,"policy":"reject","result":"none","detail":"no record"}`},
		{"dmarc misaligned", DMARCCheck{Domain: "x", MailFromDomain: "y", DKIMDomains: []string{"z"}, Policy: "warn", Record: "_dmarc.x", P: "reject", Result: "misaligned", Detail: "d"},
			`{"level":"WARN","msg":"dmarc","domain":"x","mail_from_domain":"y","dkim_domains":["z"],"dkim_aligned":false,"spf_aligned":false,"policy":"warn","record":"_dmarc.x","p":"reject","result":"misaligned","detail":"d"}`},
		{"dmarc aligned", DMARCCheck{Domain: "x", MailFromDomain: "x", DKIMDomains: []string{"x"}, DKIMAligned: true, SPFAligned: true, Policy: "reject", Record: "_dmarc.x", P: "none", Result: "aligned"},
			`{"level":"DEBUG","msg":"dmarc","domain":"x","mail_from_domain":"x","dkim_domains":["x"],"dkim_aligned":true,"spf_aligned":true,"policy":"reject","record":"_dmarc.x","p":"none","result":"aligned"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, buf, _ := newCapture()
			tt.event.Log(log)
			if got := string(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))); got != tt.want {
				t.Errorf("line\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestFromRecord reads back what Log wrote, with typed values: the
// metrics count from these.
func TestFromRecord(t *testing.T) {
	next := time.Date(2026, 11, 2, 12, 1, 0, 0, time.UTC)
	tests := []Event{
		Connection{Remote: "r", Local: "l"},
		AuthAttempt{User: "app", Mechanism: "PLAIN", OK: true, Remote: "r", Helo: "h", Cached: true},
		Rejection{Level: slog.LevelError, Code: 452, Reason: "writing the queue: no space", Remote: "r", User: "app"},
		Rejection{Level: slog.LevelWarn, Code: 421, Reason: "blocked", Remote: "r", Until: next},
		Rejection{Code: 530, Reason: "Authentication required", Remote: "r", Repeated: 7},
		Acceptance{QID: "Q1", User: "app", From: "a@x", Rcpts: []string{"b@y"}, Size: 10, DKIM: []string{"s1"}, SignTime: 1500 * time.Microsecond, Remote: "r"},
		Acceptance{QID: "Q2", Rcpts: []string{"a@x"}, Size: 9, DKIM: []string{}, Kind: "bounce", OrigQID: "Q1"},
		Delivery{QID: "Q1", Rcpt: "b@y", MX: "mx", TLS: "TLS1.2", TLSPolicy: "opportunistic", Code: 250, Delay: 2500 * time.Millisecond, Reply: "ok"},
		Deferral{QID: "Q1", Rcpt: "b@y", MX: "mx", Code: 451, Reason: "later", NextAttempt: next},
		Deferral{QID: "Q1", Rcpt: "b@y", MX: "mx", Reason: "certificate expired", NextAttempt: next, TLSPolicy: "mta-sts"},
		Bounce{QID: "Q1", Rcpt: "b@y", MX: "mx", Code: 550, Reason: "no"},
		Expiry{QID: "Q1", Rcpt: "b@y", Reason: "later", Delay: time.Hour},
		Deletion{QID: "Q1", From: "a@x", Rcpts: []string{"b@y"}, Reason: "admin"},
		SPFCheck{Domain: "x", IP: "192.0.2.1", Result: "softfail", Detail: "d", Cached: true, Policy: "warn"},
		DMARCCheck{Domain: "x", MailFromDomain: "y", DKIMDomains: []string{"x"}, DKIMAligned: true, Policy: "reject", Record: "_dmarc.x", P: "quarantine", Result: "misaligned", Detail: "d"},
	}
	for _, want := range tests {
		t.Run(want.Name(), func(t *testing.T) {
			log, _, records := newCapture()
			want.Log(log)
			got, ok := FromRecord((*records)[0], nil)
			if !ok {
				t.Fatalf("FromRecord does not know %q", want.Name())
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("read back\n got %#v\nwant %#v", got, want)
			}
		})
	}
}

// TestFromRecordWith reads the attributes a logger carries (log.With)
// before the record's own, and passes over other records.
func TestFromRecordWith(t *testing.T) {
	log, _, records := newCapture()
	Delivery{Rcpt: "b@y", Code: 250, Delay: time.Second}.Log(log.With(QIDKey, "Q3"))
	log.Info(Reload, ResultKey, "ok")
	pre := []slog.Attr{slog.String(QIDKey, "Q3")}
	got, ok := FromRecord((*records)[0], pre)
	want := Delivery{QID: "Q3", Rcpt: "b@y", TLS: "none", TLSPolicy: "none", Code: 250, Delay: time.Second}
	if !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("FromRecord = %#v, %v; want %#v", got, ok, want)
	}
	if e, ok := FromRecord((*records)[1], nil); ok {
		t.Errorf("FromRecord(reload) = %#v, want none", e)
	}
}
