// Package tlsrpt gathers the results of outbound TLS sessions per policy
// domain and writes them as SMTP TLS Reporting aggregate reports (RFC
// 8460): the JSON report, gzip'd, in a multipart/report message for the
// addresses a domain's _smtp._tls record names.
package tlsrpt

import (
	"strings"
	"time"
)

// Policy types (RFC 8460 section 4.3).
const (
	PolicySTS  = "sts"
	PolicyTLSA = "tlsa"
	PolicyNone = "no-policy-found"
)

// Result types of failed sessions (RFC 8460 section 4.3).
const (
	ResultSTARTTLSNotSupported    = "starttls-not-supported"
	ResultCertificateHostMismatch = "certificate-host-mismatch"
	ResultCertificateExpired      = "certificate-expired"
	ResultCertificateNotTrusted   = "certificate-not-trusted"
	ResultValidationFailure       = "validation-failure"
	ResultTLSAInvalid             = "tlsa-invalid"
	ResultDNSSECInvalid           = "dnssec-invalid"
	ResultSTSPolicyFetchError     = "sts-policy-fetch-error"
)

// Session is one outbound session to an MX host of a policy domain.
type Session struct {
	Domain       string   // the recipient domain whose policy applied
	PolicyType   string   // PolicySTS, PolicyTLSA or PolicyNone
	PolicyString []string // the MTA-STS policy's lines, or the TLSA records
	MXHost       string
	ReceivingIP  string
	// Failure is the result type of a failed session; "" for a session
	// that met its policy.
	Failure string
}

// Report is an aggregate report (RFC 8460 section 4.4).
type Report struct {
	OrganizationName string         `json:"organization-name"`
	DateRange        DateRange      `json:"date-range"`
	ContactInfo      string         `json:"contact-info"`
	ReportID         string         `json:"report-id"`
	Policies         []PolicyReport `json:"policies"`
}

// DateRange is the span a report covers.
type DateRange struct {
	Start time.Time `json:"start-datetime"`
	End   time.Time `json:"end-datetime"`
}

// PolicyReport is the results under one policy.
type PolicyReport struct {
	Policy   PolicyDesc      `json:"policy"`
	Summary  Summary         `json:"summary"`
	Failures []FailureDetail `json:"failure-details,omitempty"`
}

// PolicyDesc names a policy.
type PolicyDesc struct {
	Type   string   `json:"policy-type"`
	String []string `json:"policy-string,omitempty"`
	Domain string   `json:"policy-domain"`
	MXHost []string `json:"mx-host,omitempty"`
}

// Summary counts sessions.
type Summary struct {
	Successful int64 `json:"total-successful-session-count"`
	Failed     int64 `json:"total-failure-session-count"`
}

// FailureDetail counts failed sessions of one kind.
type FailureDetail struct {
	ResultType          string `json:"result-type"`
	SendingMTAIP        string `json:"sending-mta-ip,omitempty"`
	ReceivingMXHostname string `json:"receiving-mx-hostname,omitempty"`
	ReceivingIP         string `json:"receiving-ip,omitempty"`
	FailedSessionCount  int64  `json:"failed-session-count"`
}

// ResultOf is the result type of a failure as delivery words it (see
// docs/tls.md); "" when the reason is not a TLS failure.
func ResultOf(reason string) string {
	switch {
	case strings.Contains(reason, "does not offer STARTTLS"), strings.Contains(reason, "refused STARTTLS"),
		strings.Contains(reason, "no STARTTLS offered"):
		return ResultSTARTTLSNotSupported
	case strings.Contains(reason, "certificate name mismatch"):
		return ResultCertificateHostMismatch
	case strings.Contains(reason, "certificate expired"):
		return ResultCertificateExpired
	case strings.Contains(reason, "unknown authority"), strings.Contains(reason, "certificate not trusted"):
		return ResultCertificateNotTrusted
	case strings.Contains(reason, "TLSA lookup for"):
		return ResultDNSSECInvalid
	case strings.Contains(reason, "TLSA mismatch"), strings.Contains(reason, "no usable TLSA"),
		strings.Contains(reason, "is not one the MTA-STS policy"), strings.Contains(reason, "TLS handshake with"):
		return ResultValidationFailure
	}
	return ""
}
