package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Addresses picks the mailto: addresses of a domain's _smtp._tls records
// (RFC 8460 section 3): exactly one record starting "v=TLSRPTv1;", whose
// rua= lists URIs separated by commas. Other URIs (https:) are not used.
func Addresses(txts []string) []string {
	var rec []string
	for _, t := range txts {
		if strings.HasPrefix(t, "v=TLSRPTv1;") || t == "v=TLSRPTv1" {
			rec = append(rec, t)
		}
	}
	if len(rec) != 1 {
		return nil
	}
	var out []string
	for _, field := range strings.Split(rec[0], ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(field), "=")
		if !ok || strings.TrimSpace(k) != "rua" {
			continue
		}
		for _, uri := range strings.Split(v, ",") {
			if addr, ok := strings.CutPrefix(strings.TrimSpace(uri), "mailto:"); ok && strings.Contains(addr, "@") {
				out = append(out, addr)
			}
		}
	}
	return out
}

// Build makes the report for domain's policies over span.
func Build(submitter, contact, domain string, span DateRange, policies []PolicyReport) Report {
	return Report{
		OrganizationName: submitter,
		DateRange:        DateRange{Start: span.Start.UTC().Truncate(time.Second), End: span.End.UTC().Truncate(time.Second)},
		ContactInfo:      contact,
		ReportID:         span.End.UTC().Format("2006-01-02T15:04:05Z") + "." + randomID() + "@" + submitter,
		Policies:         policies,
	}
}

// Message is the report as an email (RFC 8460 section 5.3): from, to the
// addresses, a multipart/report of report-type "tlsrpt" whose second part
// is the JSON report gzip'd, as application/tlsrpt+gzip.
func Message(from string, to []string, submitter, domain string, r Report, now time.Time) ([]byte, error) {
	js, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(js); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	// RFC 8460 section 5.1: submitter!policy-domain!begin!end!id.json.gz
	filename := fmt.Sprintf("%s!%s!%d!%d!%s.json.gz", submitter, domain, r.DateRange.Start.Unix(), r.DateRange.End.Unix(), randomID())
	boundary := "tlsrpt-" + randomID()
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", "<"+from+">")
	header("To", "<"+strings.Join(to, ">, <")+">")
	header("Date", now.UTC().Format(time.RFC1123Z))
	header("Message-ID", "<"+randomID()+"@"+submitter+">")
	header("Subject", "Report Domain: "+domain+" Submitter: "+submitter+" Report-ID: <"+r.ReportID+">")
	header("TLS-Report-Domain", domain)
	header("TLS-Report-Submitter", submitter)
	header("MIME-Version", "1.0")
	header("Content-Type", `multipart/report; report-type="tlsrpt"; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n", boundary)
	fmt.Fprintf(&b, "This is an aggregate TLS report (RFC 8460) from %s for %s,\r\ncovering %s to %s.\r\n\r\n",
		submitter, domain, r.DateRange.Start.Format(time.RFC3339), r.DateRange.End.Format(time.RFC3339))
	fmt.Fprintf(&b, "--%s\r\nContent-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\n", boundary)
	fmt.Fprintf(&b, "Content-Disposition: attachment; filename=\"%s\"\r\n\r\n", filename)
	enc := base64.StdEncoding.EncodeToString(gz.Bytes())
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes(), nil
}

func randomID() string {
	buf := make([]byte, 8)
	rand.Read(buf)
	return hex.EncodeToString(buf)
}
