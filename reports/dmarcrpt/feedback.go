// Package dmarcrpt parses DMARC aggregate reports, the XML documents of RFC
// 7489 appendix C that receivers send to a domain's rua= address.
//
// Reporters follow the schema loosely, so the parser is lenient where
// leniency loses nothing: namespaces are ignored (Microsoft declares
// several), a byte-order mark and surrounding white space are skipped,
// numbers may be zero-padded and IPv4 addresses may carry zero-padded
// octets (Yahoo), results are compared without regard to case, and every
// element the schema marks optional may be missing. Text that is not
// UTF-8 and declares no encoding is read as Latin-1. What the report cannot
// do without (the reporter, the report ID, the date range, the published
// domain, each row's source address and count) is checked, and its absence
// is an error naming the element.
package dmarcrpt

import "time"

// Feedback is one aggregate report (RFC 7489 appendix C, element
// "feedback").
type Feedback struct {
	Version  string          `json:"version,omitempty"`
	Metadata Metadata        `json:"report_metadata"`
	Policy   PolicyPublished `json:"policy_published"`
	Records  []Record        `json:"records"`
}

// Metadata says who sent the report and which period it covers.
type Metadata struct {
	OrgName          string    `json:"org_name"`
	Email            string    `json:"email,omitempty"`
	ExtraContactInfo string    `json:"extra_contact_info,omitempty"`
	ReportID         string    `json:"report_id"`
	Begin            time.Time `json:"begin"`
	End              time.Time `json:"end"`
	Errors           []string  `json:"errors,omitempty"`
}

// PolicyPublished is the DMARC record the receiver found (RFC 7489
// section 6.3).
type PolicyPublished struct {
	Domain string `json:"domain"`
	ADKIM  string `json:"adkim,omitempty"`
	ASPF   string `json:"aspf,omitempty"`
	P      string `json:"p,omitempty"`
	SP     string `json:"sp,omitempty"`
	Pct    int    `json:"pct,omitempty"`
	FO     string `json:"fo,omitempty"`
}

// Record is the outcome for messages from one source address with one set
// of identifiers and results. A reporter may send several records for the
// same address.
type Record struct {
	SourceIP string `json:"source_ip"`
	Count    int    `json:"count"`
	// Disposition is what the receiver did: none, quarantine or reject.
	Disposition string `json:"disposition"`
	// DKIM and SPF are the aligned results DMARC used (RFC 7489 section
	// 3.1): pass or fail.
	DKIM    string   `json:"dkim"`
	SPF     string   `json:"spf"`
	Reasons []Reason `json:"reasons,omitempty"`

	HeaderFrom   string `json:"header_from"`
	EnvelopeFrom string `json:"envelope_from,omitempty"`
	EnvelopeTo   string `json:"envelope_to,omitempty"`

	// AuthDKIM and AuthSPF are the raw authentication results, before
	// alignment.
	AuthDKIM []DKIMResult `json:"auth_dkim,omitempty"`
	AuthSPF  []SPFResult  `json:"auth_spf,omitempty"`
}

// DMARCPass reports whether DMARC passed for the record's messages: either
// aligned result passed (RFC 7489 section 4.2).
func (r Record) DMARCPass() bool { return r.DKIM == "pass" || r.SPF == "pass" }

// Reason is a receiver's explanation for overriding the policy
// (forwarded, mailing_list, local_policy, ...).
type Reason struct {
	Type    string `json:"type"`
	Comment string `json:"comment,omitempty"`
}

// DKIMResult is one DKIM signature's verification.
type DKIMResult struct {
	Domain   string `json:"domain"`
	Selector string `json:"selector,omitempty"`
	Result   string `json:"result"`
}

// SPFResult is one SPF evaluation.
type SPFResult struct {
	Domain string `json:"domain"`
	Scope  string `json:"scope,omitempty"`
	Result string `json:"result"`
}
