package control

// TLSReportSent is one TLS report (RFC 8460) `tlsrpt send` had queued: the
// answer of the control command "tlsrpt-send".
type TLSReportSent struct {
	Domain   string   `json:"domain"`
	To       []string `json:"to,omitempty"`
	QID      string   `json:"qid,omitempty"`
	Sessions int64    `json:"sessions"`
	// Skipped says why no report went out: the domain asks for none, or
	// queueing it failed.
	Skipped string `json:"skipped,omitempty"`
}
