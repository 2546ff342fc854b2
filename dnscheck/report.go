package dnscheck

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Status is how one check came out.
type Status string

const (
	Pass    Status = "pass"
	Fail    Status = "fail"
	Warning Status = "warning"
	// Info marks what is reported for the administrator's information
	// and never fails (MTA-STS, TLS-RPT, checks that do not apply).
	Info Status = "info"
)

// Result is one check's outcome.
type Result struct {
	// Check names the check: spf, spf-lookups, spf-ip, dkim, key-size,
	// dmarc, rdns, mx, port25, mta-sts, tls-rpt, and the bulk sender
	// list: bulk-auth, bulk-dmarc, bulk-rdns, bulk-tls, bulk-keys,
	// bulk-unsub.
	Check   string `json:"check"`
	Status  Status `json:"status"`
	Message string `json:"message"`
	// Record is the DNS record to publish, in zone-file form, where one
	// is missing or wrong.
	Record string `json:"record,omitempty"`
	// Required says a fail of this check makes the whole check fail:
	// mail would be rejected or lost.
	Required bool `json:"required"`
}

// Report is the outcome of Run.
type Report struct {
	Domain    string   `json:"domain"`
	Hostname  string   `json:"hostname"`
	Mode      string   `json:"mode"`
	EgressIPs []string `json:"egress_ips"`
	Results   []Result `json:"checks"`
	// OK is false when a required check failed.
	OK bool `json:"ok"`
}

func (r *Report) add(res Result) { r.Results = append(r.Results, res) }

// Failed reports whether a required check failed.
func (r *Report) Failed() bool {
	for _, res := range r.Results {
		if res.Required && res.Status == Fail {
			return true
		}
	}
	return false
}

func (r *Report) count(s Status) int {
	n := 0
	for _, res := range r.Results {
		if res.Status == s {
			n++
		}
	}
	return n
}

// WriteText writes one line per check, "status  check  message", with the
// record to publish after "publish:" on the same line, and a summary.
func (r *Report) WriteText(w io.Writer) error {
	egress := strings.Join(r.EgressIPs, ", ")
	if egress == "" {
		egress = "none"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Checking %s (hostname %s, delivery mode %s, egress addresses %s)\n", r.Domain, r.Hostname, r.Mode, egress)
	for _, res := range r.Results {
		fmt.Fprintf(&b, "%-8s %-12s %s", res.Status, res.Check, res.Message)
		if res.Record != "" {
			fmt.Fprintf(&b, "; publish: %s", res.Record)
		}
		b.WriteByte('\n')
	}
	failed := 0
	for _, res := range r.Results {
		if res.Required && res.Status == Fail {
			failed++
		}
	}
	switch {
	case failed > 0:
		fmt.Fprintf(&b, "%d required check(s) failed, %d warning(s): fix the records above and run `dkimrelay check --domain %s` again.\n", failed, r.count(Warning), r.Domain)
	case r.count(Warning) > 0:
		fmt.Fprintf(&b, "All required checks passed, %d warning(s).\n", r.count(Warning))
	default:
		fmt.Fprintf(&b, "All checks passed.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	r.OK = !r.Failed()
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
