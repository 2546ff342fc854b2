// Package tlsrpt parses SMTP TLS reports, the JSON documents of RFC 8460
// section 4 that sending servers mail to the address in a domain's
// _smtp._tls TXT record.
//
// The parser accepts what reporters actually send: "mx-host" as a single
// string as well as a list, date-times without a zone (taken as UTC),
// counts written as strings, and missing optional members. The reporter,
// the report ID and the date range are required.
package tlsrpt

import "time"

// Report is one TLS report (RFC 8460 section 4.4).
type Report struct {
	OrganizationName string    `json:"organization-name"`
	ContactInfo      string    `json:"contact-info,omitempty"`
	ReportID         string    `json:"report-id"`
	Start            time.Time `json:"start-datetime"`
	End              time.Time `json:"end-datetime"`
	Policies         []Policy  `json:"policies"`
}

// Policy is the outcome of the sessions made under one policy (RFC 8460
// section 4.3): its type, the sessions that succeeded and failed, and the
// failures' details.
type Policy struct {
	// Type is "sts", "tlsa" or "no-policy-found".
	Type    string   `json:"policy-type"`
	Domain  string   `json:"policy-domain"`
	Strings []string `json:"policy-string,omitempty"`
	MXHosts []string `json:"mx-host,omitempty"`

	Successful int       `json:"total-successful-session-count"`
	Failed     int       `json:"total-failure-session-count"`
	Failures   []Failure `json:"failure-details,omitempty"`
}

// Failure is one kind of failed session (RFC 8460 section 4.3, result
// types in section 4.3.2).
type Failure struct {
	ResultType          string `json:"result-type"`
	SendingMTAIP        string `json:"sending-mta-ip,omitempty"`
	ReceivingMXHostname string `json:"receiving-mx-hostname,omitempty"`
	ReceivingMXHelo     string `json:"receiving-mx-helo,omitempty"`
	ReceivingIP         string `json:"receiving-ip,omitempty"`
	FailedSessions      int    `json:"failed-session-count"`
	AdditionalInfo      string `json:"additional-information,omitempty"`
	FailureReasonCode   string `json:"failure-reason-code,omitempty"`
}
