package dmarcrpt

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrNotDMARC means the document is XML but not a DMARC aggregate report.
var ErrNotDMARC = errors.New("not a DMARC aggregate report (no <feedback> element)")

// The XML shape of RFC 7489 appendix C. Element names carry no namespace,
// so any namespace (or none) matches.
type xmlFeedback struct {
	XMLName  xml.Name `xml:"feedback"`
	Version  string   `xml:"version"`
	Metadata struct {
		OrgName          string   `xml:"org_name"`
		Email            string   `xml:"email"`
		ExtraContactInfo string   `xml:"extra_contact_info"`
		ReportID         string   `xml:"report_id"`
		Begin            string   `xml:"date_range>begin"`
		End              string   `xml:"date_range>end"`
		Errors           []string `xml:"error"`
	} `xml:"report_metadata"`
	Policy struct {
		Domain string `xml:"domain"`
		ADKIM  string `xml:"adkim"`
		ASPF   string `xml:"aspf"`
		P      string `xml:"p"`
		SP     string `xml:"sp"`
		Pct    string `xml:"pct"`
		FO     string `xml:"fo"`
	} `xml:"policy_published"`
	Records []xmlRecord `xml:"record"`
}

type xmlRecord struct {
	Row struct {
		SourceIP string `xml:"source_ip"`
		Count    string `xml:"count"`
		Policy   struct {
			Disposition string `xml:"disposition"`
			DKIM        string `xml:"dkim"`
			SPF         string `xml:"spf"`
			Reasons     []struct {
				Type    string `xml:"type"`
				Comment string `xml:"comment"`
			} `xml:"reason"`
		} `xml:"policy_evaluated"`
	} `xml:"row"`
	Identifiers struct {
		EnvelopeTo   string `xml:"envelope_to"`
		EnvelopeFrom string `xml:"envelope_from"`
		HeaderFrom   string `xml:"header_from"`
	} `xml:"identifiers"`
	Auth struct {
		DKIM []struct {
			Domain   string `xml:"domain"`
			Selector string `xml:"selector"`
			Result   string `xml:"result"`
		} `xml:"dkim"`
		SPF []struct {
			Domain string `xml:"domain"`
			Scope  string `xml:"scope"`
			Result string `xml:"result"`
		} `xml:"spf"`
	} `xml:"auth_results"`
}

// ParseBytes parses one aggregate report held in memory.
func ParseBytes(b []byte) (*Feedback, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(b) && !declaresEncoding(b) {
		// Undeclared Latin-1 (a reporter's name with an umlaut), which
		// XML would refuse as broken UTF-8.
		b = latin1ToUTF8(b)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	d.CharsetReader = charsetReader
	var x xmlFeedback
	if err := d.Decode(&x); err != nil {
		var unexpected xml.UnmarshalError
		if errors.As(err, &unexpected) {
			return nil, ErrNotDMARC
		}
		return nil, fmt.Errorf("DMARC report is not well-formed XML: %w", err)
	}
	return x.normalize()
}

func (x *xmlFeedback) normalize() (*Feedback, error) {
	m := x.Metadata
	f := &Feedback{
		Version: clean(x.Version),
		Metadata: Metadata{
			OrgName:          clean(m.OrgName),
			Email:            clean(m.Email),
			ExtraContactInfo: clean(m.ExtraContactInfo),
			ReportID:         clean(m.ReportID),
		},
		Policy: PolicyPublished{
			Domain: domain(x.Policy.Domain),
			ADKIM:  lower(x.Policy.ADKIM),
			ASPF:   lower(x.Policy.ASPF),
			P:      lower(x.Policy.P),
			SP:     lower(x.Policy.SP),
			FO:     clean(x.Policy.FO),
		},
	}
	for _, e := range m.Errors {
		if e = clean(e); e != "" {
			f.Metadata.Errors = append(f.Metadata.Errors, e)
		}
	}
	switch {
	case f.Metadata.OrgName == "":
		return nil, errors.New("DMARC report without <org_name>")
	case f.Metadata.ReportID == "":
		return nil, errors.New("DMARC report without <report_id>")
	case f.Policy.Domain == "":
		return nil, errors.New("DMARC report without <policy_published><domain>")
	}
	var err error
	if f.Metadata.Begin, err = unixTime(m.Begin); err != nil {
		return nil, fmt.Errorf("DMARC report <date_range><begin>: %w", err)
	}
	if f.Metadata.End, err = unixTime(m.End); err != nil {
		return nil, fmt.Errorf("DMARC report <date_range><end>: %w", err)
	}
	if s := clean(x.Policy.Pct); s != "" {
		if f.Policy.Pct, err = number(s); err != nil {
			return nil, fmt.Errorf("DMARC report <policy_published><pct>: %w", err)
		}
	}
	for i, xr := range x.Records {
		r, err := xr.normalize(f.Policy.Domain)
		if err != nil {
			return nil, fmt.Errorf("DMARC report record %d: %w", i+1, err)
		}
		f.Records = append(f.Records, r)
	}
	return f, nil
}

func (xr *xmlRecord) normalize(policyDomain string) (Record, error) {
	ip, err := sourceIP(xr.Row.SourceIP)
	if err != nil {
		return Record{}, err
	}
	count, err := number(xr.Row.Count)
	if err != nil {
		return Record{}, fmt.Errorf("<count>: %w", err)
	}
	pe := xr.Row.Policy
	r := Record{
		SourceIP:     ip,
		Count:        count,
		Disposition:  lower(pe.Disposition),
		DKIM:         lower(pe.DKIM),
		SPF:          lower(pe.SPF),
		HeaderFrom:   domain(xr.Identifiers.HeaderFrom),
		EnvelopeFrom: domain(xr.Identifiers.EnvelopeFrom),
		EnvelopeTo:   domain(xr.Identifiers.EnvelopeTo),
	}
	if r.Disposition == "" {
		r.Disposition = "none"
	}
	if r.HeaderFrom == "" {
		r.HeaderFrom = policyDomain
	}
	for _, re := range pe.Reasons {
		r.Reasons = append(r.Reasons, Reason{Type: lower(re.Type), Comment: clean(re.Comment)})
	}
	for _, d := range xr.Auth.DKIM {
		r.AuthDKIM = append(r.AuthDKIM, DKIMResult{Domain: domain(d.Domain), Selector: clean(d.Selector), Result: lower(d.Result)})
	}
	for _, s := range xr.Auth.SPF {
		r.AuthSPF = append(r.AuthSPF, SPFResult{Domain: domain(s.Domain), Scope: lower(s.Scope), Result: lower(s.Result)})
	}
	return r, nil
}

func clean(s string) string { return strings.TrimSpace(s) }
func lower(s string) string { return strings.ToLower(clean(s)) }

// domain lowercases a domain and drops a trailing dot.
func domain(s string) string { return strings.TrimSuffix(lower(s), ".") }

// number parses a non-negative count; zero padding ("0003") is accepted.
func number(s string) (int, error) {
	s = clean(s)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > 1<<40 {
		return 0, fmt.Errorf("%q is not a count", s)
	}
	return int(n), nil
}

// unixTime parses the seconds since the epoch of <begin> and <end>. A few
// reporters write fractions or zero padding.
func unixTime(s string) (time.Time, error) {
	s = clean(s)
	if s == "" {
		return time.Time{}, errors.New("missing")
	}
	whole, _, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("%q is not a time in seconds since 1970", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

// sourceIP parses the row's address in its canonical form. IPv4 octets
// with zero padding ("192.000.002.001") are accepted.
func sourceIP(s string) (string, error) {
	s = clean(s)
	if s == "" {
		return "", errors.New("missing <source_ip>")
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().String(), nil
	}
	parts := strings.Split(s, ".")
	if len(parts) == 4 {
		for i, p := range parts {
			n, err := strconv.ParseUint(p, 10, 8)
			if err != nil {
				return "", fmt.Errorf("<source_ip> %q is not an IP address", s)
			}
			parts[i] = strconv.FormatUint(n, 10)
		}
		if a, err := netip.ParseAddr(strings.Join(parts, ".")); err == nil {
			return a.String(), nil
		}
	}
	return "", fmt.Errorf("<source_ip> %q is not an IP address", s)
}
