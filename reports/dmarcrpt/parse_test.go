package dmarcrpt

import (
	"strings"
	"testing"
	"time"
)

const minimal = `<feedback><report_metadata><org_name>r.example</org_name><report_id>1</report_id>
<date_range><begin>1795910400</begin><end>1795996799</end></date_range></report_metadata>
<policy_published><domain>example.org</domain><p>none</p></policy_published>%s</feedback>`

func doc(records string) string { return strings.Replace(minimal, "%s", records, 1) }

func TestParseQuirks(t *testing.T) {
	tests := []struct {
		name, in string
		check    func(*testing.T, *Feedback)
	}{
		{"microsoft namespaces and BOM", "\ufeff<?xml version=\"1.0\" encoding=\"utf-8\"?>\n" + strings.Replace(doc(`<record><row><source_ip>2001:DB8::1</source_ip><count>2</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated></row><identifiers><header_from>Example.org.</header_from></identifiers></record>`), "<feedback>", `<feedback xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns="http://dmarc.org/dmarc-xml/0.1">`, 1),
			func(t *testing.T, f *Feedback) {
				r := f.Records[0]
				if r.SourceIP != "2001:db8::1" || r.HeaderFrom != "example.org" || !r.DMARCPass() {
					t.Errorf("record %+v", r)
				}
			}},
		{"yahoo zero padding", doc(`<record><row><source_ip>010.001.002.003</source_ip><count>000012</count><policy_evaluated><disposition>none</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row><identifiers><header_from>example.org</header_from></identifiers></record>`),
			func(t *testing.T, f *Feedback) {
				r := f.Records[0]
				if r.SourceIP != "10.1.2.3" || r.Count != 12 || r.DMARCPass() {
					t.Errorf("record %+v", r)
				}
			}},
		{"missing optional fields", doc(`<record><row><source_ip>192.0.2.1</source_ip><count>1</count><policy_evaluated><dkim>PASS</dkim><spf>Fail</spf></policy_evaluated></row></record>`),
			func(t *testing.T, f *Feedback) {
				r := f.Records[0]
				if r.Disposition != "none" || r.HeaderFrom != "example.org" || r.DKIM != "pass" || r.SPF != "fail" || len(r.AuthDKIM) != 0 {
					t.Errorf("record %+v", r)
				}
				if f.Metadata.Begin != time.Unix(1795910400, 0).UTC() || f.Policy.Pct != 0 || f.Version != "" {
					t.Errorf("feedback %+v", f)
				}
			}},
		{"undeclared latin-1", strings.Replace(doc(""), "r.example", "M\xfcller", 1),
			func(t *testing.T, f *Feedback) {
				if f.Metadata.OrgName != "Müller" {
					t.Errorf("org %q", f.Metadata.OrgName)
				}
			}},
		{"latin-1", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>" + strings.Replace(doc(""), "r.example", "M\xfcller", 1),
			func(t *testing.T, f *Feedback) {
				if f.Metadata.OrgName != "Müller" {
					t.Errorf("org %q", f.Metadata.OrgName)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseBytes([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, f)
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"other XML", `<html><body/></html>`, "not a DMARC aggregate report"},
		{"truncated", doc("")[:80], "not well-formed"},
		{"no report id", strings.Replace(doc(""), "<report_id>1</report_id>", "", 1), "without <report_id>"},
		{"no org", strings.Replace(doc(""), "<org_name>r.example</org_name>", "", 1), "without <org_name>"},
		{"no domain", strings.Replace(doc(""), "<domain>example.org</domain>", "", 1), "without <policy_published><domain>"},
		{"bad date", strings.Replace(doc(""), "1795910400", "yesterday", 1), "<begin>"},
		{"bad ip", doc(`<record><row><source_ip>300.1.1.1</source_ip><count>1</count></row></record>`), "record 1: <source_ip>"},
		{"bad count", doc(`<record><row><source_ip>192.0.2.1</source_ip><count>-1</count></row></record>`), "record 1: <count>"},
		{"utf-16", `<?xml version="1.0" encoding="UTF-16"?>` + doc(""), "iconv"},
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
