package verify

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteText writes the report for a person: one line per check, then the
// explanation of each failure.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "From:       %s\n", orNone(r.From))
	if r.Subject != "" {
		fmt.Fprintf(&b, "Subject:    %s\n", r.Subject)
	}
	if r.MessageID != "" {
		fmt.Fprintf(&b, "Message-ID: %s\n", r.MessageID)
	}
	b.WriteString("\n")
	if len(r.DKIM) == 0 {
		fmt.Fprintf(&b, "DKIM   fail    %s\n", r.DKIMNote)
	}
	for _, s := range r.DKIM {
		fmt.Fprintf(&b, "DKIM   %-7s d=%s s=%s a=%s\n", status(s.Kind == Pass), s.Domain, s.Selector, s.Algorithm)
		if s.Kind != Pass {
			fmt.Fprintf(&b, "       %s: %s\n", s.Kind, s.Explanation)
		}
	}
	fmt.Fprintf(&b, "SPF    %-7s %s\n", r.SPF.Status, r.SPF.Explanation)
	fmt.Fprintf(&b, "DMARC  %-7s %s\n", r.DMARC.Status, r.DMARC.Explanation)
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as one JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func status(ok bool) string {
	if ok {
		return "pass"
	}
	return "fail"
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
