package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestStoreCountsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s, err := Open(dir, clock)
	if err != nil {
		t.Fatal(err)
	}
	sts := []string{"version: STSv1", "mode: enforce", "mx: mx1.example.net", "max_age: 86400"}
	for range 3 {
		s.Record(Session{Domain: "example.net", PolicyType: PolicySTS, PolicyString: sts, MXHost: "mx1.example.net"})
	}
	s.Record(Session{Domain: "example.net", PolicyType: PolicySTS, PolicyString: sts, MXHost: "mx1.example.net",
		ReceivingIP: "192.0.2.1", Failure: ResultSTARTTLSNotSupported})
	s.Record(Session{Domain: "example.net", PolicyType: PolicySTS, PolicyString: sts, MXHost: "mx1.example.net",
		ReceivingIP: "192.0.2.1", Failure: ResultSTARTTLSNotSupported})
	s.Record(Session{Domain: "other.example", PolicyType: PolicyNone, MXHost: "mx.other.example"})
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}

	now = now.Add(24 * time.Hour)
	s, err = Open(dir, clock)
	if err != nil {
		t.Fatal(err)
	}
	span, byDomain, err := s.Take()
	if err != nil {
		t.Fatal(err)
	}
	if !span.Start.Equal(now.Add(-24*time.Hour)) || !span.End.Equal(now) {
		t.Errorf("span %+v", span)
	}
	got := byDomain["example.net"]
	if len(got) != 1 || got[0].Summary != (Summary{Successful: 3, Failed: 2}) || len(got[0].Failures) != 1 ||
		got[0].Failures[0] != (FailureDetail{ResultType: ResultSTARTTLSNotSupported, ReceivingMXHostname: "mx1.example.net",
			ReceivingIP: "192.0.2.1", FailedSessionCount: 2}) || !slices.Equal(got[0].Policy.MXHost, []string{"mx1.example.net"}) {
		t.Errorf("example.net after restart: %+v", got)
	}
	if o := byDomain["other.example"]; len(o) != 1 || o[0].Policy.Type != PolicyNone || o[0].Summary.Successful != 1 {
		t.Errorf("other.example: %+v", o)
	}
	// Taken: counting starts afresh, also after a restart.
	s, _ = Open(dir, clock)
	if _, again, _ := s.Take(); len(again) != 0 {
		t.Errorf("counts after Take: %+v", again)
	}
}

func TestAddresses(t *testing.T) {
	for _, tt := range []struct {
		txts []string
		want []string
	}{
		{[]string{"v=TLSRPTv1; rua=mailto:tls@example.net"}, []string{"tls@example.net"}},
		{[]string{"v=TLSRPTv1;rua=mailto:a@x.example,https://r.example/tls, mailto:b@y.example"}, []string{"a@x.example", "b@y.example"}},
		{[]string{"v=spf1 -all"}, nil},
		{[]string{"v=TLSRPTv1; rua=mailto:a@x", "v=TLSRPTv1; rua=mailto:b@x"}, nil},
		{[]string{"v=TLSRPTv1; rua=https://r.example/"}, nil},
	} {
		if got := Addresses(tt.txts); !slices.Equal(got, tt.want) {
			t.Errorf("Addresses(%q) = %q, want %q", tt.txts, got, tt.want)
		}
	}
}

// TestMessage reads the report back as a receiver would: the RFC's
// headers, a multipart/report of type tlsrpt, the gzip'd JSON.
func TestMessage(t *testing.T) {
	span := DateRange{Start: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)}
	pols := []PolicyReport{{Policy: PolicyDesc{Type: PolicySTS, Domain: "example.net", String: []string{"mode: enforce"}},
		Summary:  Summary{Successful: 5, Failed: 1},
		Failures: []FailureDetail{{ResultType: ResultCertificateExpired, ReceivingMXHostname: "mx1.example.net", FailedSessionCount: 1}}}}
	r := Build("relay.example.org", "mailto:postmaster@example.org", "example.net", span, pols)
	raw, err := Message("postmaster@example.org", []string{"tls@example.net"}, "relay.example.org", "example.net", r, span.End)
	if err != nil {
		t.Fatal(err)
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("TLS-Report-Domain") != "example.net" || m.Header.Get("TLS-Report-Submitter") != "relay.example.org" ||
		!strings.HasPrefix(m.Header.Get("Subject"), "Report Domain: example.net Submitter: relay.example.org Report-ID: <") {
		t.Errorf("headers %v", m.Header)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "tlsrpt" {
		t.Fatalf("content type %q %v", mt, params)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var report Report
	found := false
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.Header.Get("Content-Type") != "application/tlsrpt+gzip" {
			continue
		}
		if !strings.HasSuffix(p.FileName(), ".json.gz") || !strings.HasPrefix(p.FileName(), fmt.Sprintf("relay.example.org!example.net!%d!%d!", span.Start.Unix(), span.End.Unix())) {
			t.Errorf("file name %q", p.FileName())
		}
		zr, err := gzip.NewReader(base64.NewDecoder(base64.StdEncoding, p))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.NewDecoder(zr).Decode(&report); err != nil {
			t.Fatal(err)
		}
		found = true
	}
	if !found || report.Policies[0].Summary != (Summary{Successful: 5, Failed: 1}) ||
		report.Policies[0].Failures[0].ResultType != ResultCertificateExpired || report.OrganizationName != "relay.example.org" ||
		!report.DateRange.End.Equal(span.End) {
		t.Errorf("report %+v (found %v)", report, found)
	}
}
