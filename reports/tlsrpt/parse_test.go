package tlsrpt

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, in string
		check    func(*testing.T, *Report)
	}{
		{"RFC 8460 example shape", `{"organization-name":"Company-X","date-range":{"start-datetime":"2016-04-01T00:00:00Z","end-datetime":"2016-04-01T23:59:59Z"},"contact-info":"sts-reporting@company-x.example","report-id":"5065427c-23d3-47ca-b6e0-946ea0e8c4be","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: testing"],"policy-domain":"company-y.example","mx-host":["*.mail.company-y.example"]},"summary":{"total-successful-session-count":5326,"total-failure-session-count":303},"failure-details":[{"result-type":"certificate-expired","sending-mta-ip":"2001:db8:abcd:0012::1","receiving-mx-hostname":"mx1.mail.company-y.example","failed-session-count":100}]}]}`,
			func(t *testing.T, r *Report) {
				p := r.Policies[0]
				if p.Successful != 5326 || p.Failed != 303 || p.Failures[0].FailedSessions != 100 || p.MXHosts[0] != "*.mail.company-y.example" {
					t.Errorf("policy %+v", p)
				}
				if !r.Start.Equal(time.Date(2016, 4, 1, 0, 0, 0, 0, time.UTC)) {
					t.Errorf("start %v", r.Start)
				}
			}},
		{"mx-host as a string, counts as strings, no zone", "\ufeff" + `{"organization-name":"M","date-range":{"start-datetime":"2026-12-01T00:00:00","end-datetime":"2026-12-01T23:59:59"},"report-id":"x","policies":[{"policy":{"policy-type":"STS","policy-domain":"Example.org.","mx-host":"MX1.example.org"},"summary":{"total-successful-session-count":"7","total-failure-session-count":null}}]}`,
			func(t *testing.T, r *Report) {
				p := r.Policies[0]
				if p.Type != "sts" || p.Domain != "example.org" || p.MXHosts[0] != "mx1.example.org" || p.Successful != 7 || p.Failed != 0 {
					t.Errorf("policy %+v", p)
				}
				if r.End.Location() != time.UTC || r.End.Hour() != 23 {
					t.Errorf("end %v", r.End)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseBytes([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, r)
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"other JSON", `{"hello":"world"}`, "not a TLS report"},
		{"a list", `[1,2]`, "not a TLS report"},
		{"truncated", `{"organization-name":"M","date-ra`, "not valid JSON"},
		{"no id", `{"organization-name":"M","policies":[]}`, `without "report-id"`},
		{"bad date", `{"organization-name":"M","report-id":"1","date-range":{"start-datetime":"monday","end-datetime":"2026-12-01T00:00:00Z"},"policies":[]}`, "start-datetime"},
		{"bad count", `{"organization-name":"M","report-id":"1","date-range":{"start-datetime":"2026-12-01T00:00:00Z","end-datetime":"2026-12-01T00:00:00Z"},"policies":[{"policy":{"policy-domain":"e.org"},"summary":{"total-successful-session-count":"many"}}]}`, "not a session count"},
		{"no policy domain", `{"organization-name":"M","report-id":"1","date-range":{"start-datetime":"2026-12-01T00:00:00Z","end-datetime":"2026-12-01T00:00:00Z"},"policies":[{"policy":{}}]}`, "policy-domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseBytes([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
