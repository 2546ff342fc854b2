package tlsrpt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrNotTLSRPT means the document is JSON but not a TLS report.
var ErrNotTLSRPT = errors.New("not a TLS report (no \"policies\" or \"organization-name\")")

// The JSON shape of RFC 8460 section 4.4, with the loose members as raw
// values.
type jsonReport struct {
	OrganizationName string `json:"organization-name"`
	DateRange        struct {
		Start string `json:"start-datetime"`
		End   string `json:"end-datetime"`
	} `json:"date-range"`
	ContactInfo string `json:"contact-info"`
	ReportID    string `json:"report-id"`
	Policies    []struct {
		Policy struct {
			Type    string     `json:"policy-type"`
			Strings stringList `json:"policy-string"`
			Domain  string     `json:"policy-domain"`
			MXHost  stringList `json:"mx-host"`
		} `json:"policy"`
		Summary struct {
			Successful count `json:"total-successful-session-count"`
			Failed     count `json:"total-failure-session-count"`
		} `json:"summary"`
		Failures []struct {
			ResultType          string `json:"result-type"`
			SendingMTAIP        string `json:"sending-mta-ip"`
			ReceivingMXHostname string `json:"receiving-mx-hostname"`
			ReceivingMXHelo     string `json:"receiving-mx-helo"`
			ReceivingIP         string `json:"receiving-ip"`
			FailedSessions      count  `json:"failed-session-count"`
			AdditionalInfo      string `json:"additional-information"`
			FailureReasonCode   string `json:"failure-reason-code"`
		} `json:"failure-details"`
	} `json:"policies"`
}

// stringList is a JSON list of strings, or one string.
type stringList []string

func (s *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = stringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("expected a string or a list of strings, got %s", b)
	}
	*s = many
	return nil
}

// count is a JSON number, or a string holding one.
type count int

func (c *count) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" || s == "" {
		*c = 0
		return nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 || n > 1<<40 {
		return fmt.Errorf("%s is not a session count", b)
	}
	*c = count(n)
	return nil
}

// ParseBytes parses one TLS report held in memory.
func ParseBytes(b []byte) (*Report, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	var j jsonReport
	if err := json.Unmarshal(b, &j); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field == "" {
			return nil, ErrNotTLSRPT
		}
		return nil, fmt.Errorf("TLS report is not valid JSON: %w", err)
	}
	if j.OrganizationName == "" && j.Policies == nil {
		return nil, ErrNotTLSRPT
	}
	r := &Report{
		OrganizationName: strings.TrimSpace(j.OrganizationName),
		ContactInfo:      strings.TrimSpace(j.ContactInfo),
		ReportID:         strings.TrimSpace(j.ReportID),
	}
	switch {
	case r.OrganizationName == "":
		return nil, errors.New(`TLS report without "organization-name"`)
	case r.ReportID == "":
		return nil, errors.New(`TLS report without "report-id"`)
	}
	var err error
	if r.Start, err = dateTime(j.DateRange.Start); err != nil {
		return nil, fmt.Errorf(`TLS report "start-datetime": %w`, err)
	}
	if r.End, err = dateTime(j.DateRange.End); err != nil {
		return nil, fmt.Errorf(`TLS report "end-datetime": %w`, err)
	}
	for _, jp := range j.Policies {
		p := Policy{
			Type:       strings.ToLower(strings.TrimSpace(jp.Policy.Type)),
			Domain:     hostname(jp.Policy.Domain),
			Strings:    jp.Policy.Strings,
			Successful: int(jp.Summary.Successful),
			Failed:     int(jp.Summary.Failed),
		}
		for _, h := range jp.Policy.MXHost {
			p.MXHosts = append(p.MXHosts, hostname(h))
		}
		if p.Domain == "" {
			return nil, errors.New(`TLS report policy without "policy-domain"`)
		}
		for _, jf := range jp.Failures {
			p.Failures = append(p.Failures, Failure{
				ResultType:          strings.ToLower(strings.TrimSpace(jf.ResultType)),
				SendingMTAIP:        strings.TrimSpace(jf.SendingMTAIP),
				ReceivingMXHostname: hostname(jf.ReceivingMXHostname),
				ReceivingMXHelo:     strings.TrimSpace(jf.ReceivingMXHelo),
				ReceivingIP:         strings.TrimSpace(jf.ReceivingIP),
				FailedSessions:      int(jf.FailedSessions),
				AdditionalInfo:      strings.TrimSpace(jf.AdditionalInfo),
				FailureReasonCode:   strings.TrimSpace(jf.FailureReasonCode),
			})
		}
		r.Policies = append(r.Policies, p)
	}
	return r, nil
}

func hostname(s string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
}

// dateTime parses RFC 3339 date-times (RFC 8460 section 4.4), also
// without a zone, which is taken as UTC.
func dateTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("missing")
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 date-time", s)
}
