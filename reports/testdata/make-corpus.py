import gzip, zipfile, io, base64, calendar, datetime, os
def ts(s): return calendar.timegm(datetime.datetime.strptime(s, "%Y-%m-%d").timetuple())
D1, D2, D3 = ts("2026-11-29"), ts("2026-11-30"), ts("2026-12-01")
def gz(b):
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as f: f.write(b)
    return out.getvalue()
def zipb(name, b):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        zi = zipfile.ZipInfo(name, date_time=(2026,12,1,0,0,0)); zi.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(zi, b)
    return out.getvalue()

google = f'''<?xml version="1.0" encoding="UTF-8" ?>
<feedback>
  <report_metadata>
    <org_name>google.com</org_name>
    <email>noreply-dmarc-support@google.com</email>
    <extra_contact_info>https://support.google.com/a/answer/2466580</extra_contact_info>
    <report_id>4815162342108</report_id>
    <date_range>
      <begin>{D1}</begin>
      <end>{D2-1}</end>
    </date_range>
  </report_metadata>
  <policy_published>
    <domain>example.org</domain>
    <adkim>r</adkim>
    <aspf>r</aspf>
    <p>quarantine</p>
    <sp>quarantine</sp>
    <pct>100</pct>
    <np>quarantine</np>
  </policy_published>
  <record>
    <row>
      <source_ip>198.51.100.25</source_ip>
      <count>412</count>
      <policy_evaluated>
        <disposition>none</disposition>
        <dkim>pass</dkim>
        <spf>pass</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <header_from>example.org</header_from>
    </identifiers>
    <auth_results>
      <dkim>
        <domain>example.org</domain>
        <result>pass</result>
        <selector>s2026b</selector>
      </dkim>
      <spf>
        <domain>example.org</domain>
        <result>pass</result>
      </spf>
    </auth_results>
  </record>
  <record>
    <row>
      <source_ip>203.0.113.7</source_ip>
      <count>9</count>
      <policy_evaluated>
        <disposition>quarantine</disposition>
        <dkim>fail</dkim>
        <spf>fail</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <header_from>example.org</header_from>
    </identifiers>
    <auth_results>
      <spf>
        <domain>spoofer.example.net</domain>
        <result>softfail</result>
      </spf>
    </auth_results>
  </record>
  <record>
    <row>
      <source_ip>209.85.220.41</source_ip>
      <count>3</count>
      <policy_evaluated>
        <disposition>none</disposition>
        <dkim>pass</dkim>
        <spf>fail</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <header_from>example.org</header_from>
    </identifiers>
    <auth_results>
      <dkim>
        <domain>example.org</domain>
        <result>pass</result>
        <selector>google</selector>
      </dkim>
      <spf>
        <domain>example.org</domain>
        <result>fail</result>
      </spf>
    </auth_results>
  </record>
</feedback>
'''.encode()

yahoo = f'''<?xml version="1.0"?>
<feedback>
  <report_metadata>
    <org_name>Yahoo</org_name>
    <email>dmarchelp@yahooinc.com</email>
    <report_id>1764460800.700123</report_id>
    <date_range>
      <begin>0{D2}</begin>
      <end>0{D3-1}</end>
    </date_range>
  </report_metadata>
  <policy_published>
    <domain>example.org</domain>
    <adkim>r</adkim>
    <aspf>r</aspf>
    <p>quarantine</p>
    <pct>100</pct>
  </policy_published>
  <record>
    <row>
      <source_ip>198.051.100.025</source_ip>
      <count>0000000140</count>
      <policy_evaluated>
        <disposition>none</disposition>
        <dkim>pass</dkim>
        <spf>pass</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <header_from>example.org</header_from>
    </identifiers>
    <auth_results>
      <dkim>
        <domain>example.org</domain>
        <selector>s2026b</selector>
        <result>pass</result>
      </dkim>
      <spf>
        <domain>example.org</domain>
        <result>pass</result>
      </spf>
    </auth_results>
  </record>
  <record>
    <row>
      <source_ip>198.051.100.025</source_ip>
      <count>0000000006</count>
      <policy_evaluated>
        <disposition>quarantine</disposition>
        <dkim>fail</dkim>
        <spf>fail</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <header_from>example.org</header_from>
    </identifiers>
    <auth_results>
      <dkim>
        <domain>example.org</domain>
        <selector>s2026a</selector>
        <result>fail</result>
      </dkim>
      <spf>
        <domain>bounce.example.org</domain>
        <result>fail</result>
      </spf>
    </auth_results>
  </record>
</feedback>
'''.encode()

microsoft = ('\ufeff' + f'''<?xml version="1.0" encoding="utf-8"?>
<feedback xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://dmarc.org/dmarc-xml/0.1">
  <version>1.0</version>
  <report_metadata>
    <org_name>Enterprise Outlook</org_name>
    <email>dmarcreport@microsoft.com</email>
    <report_id>9f3c2b1a6e5d4c3b2a190817</report_id>
    <date_range>
      <begin>{D2}</begin>
      <end>{D3}</end>
    </date_range>
  </report_metadata>
  <policy_published>
    <domain>example.org</domain>
    <adkim>r</adkim>
    <aspf>r</aspf>
    <p>quarantine</p>
    <sp>quarantine</sp>
    <pct>100</pct>
    <fo>0</fo>
  </policy_published>
  <record>
    <row>
      <source_ip>2001:db8:25::25</source_ip>
      <count>31</count>
      <policy_evaluated>
        <disposition>none</disposition>
        <dkim>pass</dkim>
        <spf>pass</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <envelope_to>outlook.com</envelope_to>
      <envelope_from>example.org</envelope_from>
      <header_from>example.org</header_from>
    </identifiers>
    <auth_results>
      <dkim>
        <domain>example.org</domain>
        <selector>s2026b</selector>
        <result>pass</result>
      </dkim>
      <spf>
        <domain>example.org</domain>
        <scope>mfrom</scope>
        <result>pass</result>
      </spf>
    </auth_results>
  </record>
  <record>
    <row>
      <source_ip>2001:db8:25::25</source_ip>
      <count>2</count>
      <policy_evaluated>
        <disposition>none</disposition>
        <dkim>fail</dkim>
        <spf>pass</spf>
        <reason>
          <type>forwarded</type>
          <comment>list</comment>
        </reason>
      </policy_evaluated>
    </row>
    <identifiers>
      <envelope_to>hotmail.com</envelope_to>
      <envelope_from>example.org</envelope_from>
      <header_from>example.org</header_from>
    </identifiers>
    <auth_results>
      <dkim>
        <domain>example.org</domain>
        <selector>s2026b</selector>
        <result>fail</result>
      </dkim>
      <spf>
        <domain>example.org</domain>
        <scope>mfrom</scope>
        <result>pass</result>
      </spf>
    </auth_results>
  </record>
  <record>
    <row>
      <source_ip>203.0.113.7</source_ip>
      <count>5</count>
      <policy_evaluated>
        <disposition>quarantine</disposition>
        <dkim>fail</dkim>
        <spf>fail</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <envelope_to>outlook.com</envelope_to>
      <envelope_from>spoofer.example.net</envelope_from>
      <header_from>example.org</header_from>
    </identifiers>
    <auth_results>
      <dkim>
        <domain>example.org</domain>
        <selector>mail2019</selector>
        <result>fail</result>
      </dkim>
      <spf>
        <domain>spoofer.example.net</domain>
        <scope>mfrom</scope>
        <result>none</result>
      </spf>
    </auth_results>
  </record>
</feedback>
''').encode('utf-8')

small = f'''<?xml version="1.0" encoding="ISO-8859-1"?>
<feedback>
 <report_metadata>
  <org_name>M\xfcller Hosting</org_name>
  <email>postmaster@mueller-hosting.example</email>
  <report_id>mueller-hosting.example:1764547200</report_id>
  <date_range><begin>{D3}</begin><end>{D3+86399}</end></date_range>
 </report_metadata>
 <policy_published>
  <domain>example.org</domain>
  <p>quarantine</p>
 </policy_published>
 <record>
  <row>
   <source_ip> 198.51.100.25 </source_ip>
   <count>7</count>
   <policy_evaluated>
    <dkim>Pass</dkim>
    <spf>Pass</spf>
   </policy_evaluated>
  </row>
  <identifiers>
   <header_from>news.example.org</header_from>
  </identifiers>
  <auth_results>
   <dkim><domain>example.org</domain><result>Pass</result></dkim>
   <spf><domain>news.example.org</domain><result>pass</result></spf>
  </auth_results>
 </record>
 <record>
  <row>
   <source_ip>192.0.2.200</source_ip>
   <count>4</count>
   <policy_evaluated>
    <disposition>reject</disposition>
    <dkim>fail</dkim>
    <spf>fail</spf>
   </policy_evaluated>
  </row>
  <identifiers>
   <header_from>news.example.org</header_from>
  </identifiers>
  <auth_results>
   <spf><domain>news.example.org</domain><result>fail</result></spf>
  </auth_results>
 </record>
</feedback>
'''.encode('latin-1')

other_domain = f'''<?xml version="1.0" encoding="UTF-8" ?>
<feedback>
  <report_metadata>
    <org_name>google.com</org_name>
    <email>noreply-dmarc-support@google.com</email>
    <report_id>4815162342109</report_id>
    <date_range><begin>{D1}</begin><end>{D2-1}</end></date_range>
  </report_metadata>
  <policy_published><domain>example.com</domain><p>none</p></policy_published>
  <record>
    <row><source_ip>198.51.100.25</source_ip><count>20</count>
      <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>
    <identifiers><header_from>example.com</header_from></identifiers>
    <auth_results><dkim><domain>example.com</domain><selector>s2026c</selector><result>pass</result></dkim>
      <spf><domain>example.com</domain><result>pass</result></spf></auth_results>
  </record>
</feedback>
'''.encode()

tls_google = f'''{{
  "organization-name": "Google Inc.",
  "date-range": {{
    "start-datetime": "2026-11-30T00:00:00Z",
    "end-datetime": "2026-11-30T23:59:59Z"
  }},
  "contact-info": "smtp-tls-reporting@google.com",
  "report-id": "2026-11-30T00:00:00Z_example.org",
  "policies": [
    {{
      "policy": {{
        "policy-type": "sts",
        "policy-string": ["version: STSv1", "mode: enforce", "mx: mx1.example.org", "mx: mx2.example.org", "max_age: 604800"],
        "policy-domain": "example.org",
        "mx-host": ["mx1.example.org", "mx2.example.org"]
      }},
      "summary": {{
        "total-successful-session-count": 1250,
        "total-failure-session-count": 37
      }},
      "failure-details": [
        {{
          "result-type": "certificate-expired",
          "sending-mta-ip": "209.85.220.69",
          "receiving-mx-hostname": "mx2.example.org",
          "receiving-ip": "192.0.2.26",
          "failed-session-count": 30
        }},
        {{
          "result-type": "validation-failure",
          "sending-mta-ip": "209.85.220.69",
          "receiving-mx-hostname": "mx2.example.org.",
          "receiving-ip": "192.0.2.26",
          "failed-session-count": 7,
          "failure-reason-code": "unable to get local issuer certificate"
        }}
      ]
    }}
  ]
}}
'''.encode()

tls_ms = b'''{"organization-name":"Microsoft Corporation","date-range":{"start-datetime":"2026-12-01T00:00:00Z","end-datetime":"2026-12-01T23:59:59Z"},"contact-info":"tlsrpt-noreply@microsoft.com","report-id":"133775566778899001+example.org","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: enforce","mx: mx1.example.org","mx: mx2.example.org","max_age: 604800"],"policy-domain":"example.org","mx-host":"mx1.example.org"},"summary":{"total-successful-session-count":"880","total-failure-session-count":4},"failure-details":[{"result-type":"starttls-not-supported","sending-mta-ip":"40.92.0.1","receiving-mx-hostname":"MX1.example.org","receiving-ip":"192.0.2.25","failed-session-count":4}]}]}'''

def eml_attachment(subject, frm, ctype, fname, payload, boundary="----=_Part_1_2026"):
    b64 = base64.encodebytes(payload).decode()
    return f'''Return-Path: <{frm}>
From: {frm}
To: dmarc-reports@example.org
Subject: {subject}
Date: Tue, 01 Dec 2026 06:12:44 +0000
Message-ID: <{len(subject)}.{len(fname)}@reporter.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="{boundary}"

This is a multi-part message in MIME format.

--{boundary}
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: 7bit

This is a DMARC aggregate report for example.org.

--{boundary}
Content-Type: {ctype}; name="{fname}"
Content-Disposition: attachment; filename="{fname}"
Content-Transfer-Encoding: base64

{b64}
--{boundary}--
'''.replace("\n", "\r\n").encode()

C = "corpus/"
open(C+"01-google.zip", "wb").write(zipb(f"google.com!example.org!{D1}!{D2-1}.xml", google))
open(C+"02-yahoo.xml.gz", "wb").write(gz(yahoo))
open(C+"03-microsoft.eml", "wb").write(eml_attachment("Report Domain: example.org Submitter: enterprise.protection.outlook.com Report-ID: <9f3c2b1a6e5d4c3b2a190817>", "dmarcreport@microsoft.com", "application/gzip", "enterprise.protection.outlook.com!example.org!%d!%d.xml.gz" % (D2, D3), gz(microsoft)))
open(C+"04-small-reporter.xml", "wb").write(small)
open(C+"05-google-tlsrpt.json", "wb").write(tls_google)
open(C+"06-microsoft-tlsrpt.json.gz", "wb").write(gz(tls_ms))
open(C+"07-damaged.xml.gz", "wb").write(gz(yahoo)[:200])
# 08: a zip bomb: one member of 200 MiB of zeros, far past any limit.
out = io.BytesIO()
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    zi = zipfile.ZipInfo("report.xml", date_time=(2026,12,1,0,0,0)); zi.compress_type = zipfile.ZIP_DEFLATED
    with z.open(zi, "w", force_zip64=True) as w:
        chunk = b"\0" * (1 << 20)
        for _ in range(200): w.write(chunk)
open(C+"08-zipbomb.zip", "wb").write(out.getvalue())
# 09: the Google report again, bare: stored once.
open(C+"09-google-again.xml", "wb").write(google)
# 10: an mbox with a report for another domain and a message without one.
m1 = eml_attachment("Report domain: example.com Submitter: google.com Report-ID: 4815162342109", "noreply-dmarc-support@google.com", "application/zip", "google.com!example.com!%d!%d.zip" % (D1, D2-1), zipb("google.com!example.com.xml", other_domain)).replace(b"\r\n", b"\n")
m2 = b"From: someone@example.net\nTo: dmarc-reports@example.org\nSubject: Out of office\n\nI am away until Monday.\n"
open(C+"10-mailbox.mbox", "wb").write(b"From noreply-dmarc-support@google.com Tue Dec  1 06:00:00 2026\n" + m1 + b"\nFrom someone@example.net Tue Dec  1 07:00:00 2026\n" + m2 + b"\n")
# 11: a Maildir holding a TLS report from a small reporter (DANE, no failures).
tls_small = b'{"organization-name":"mail.example.net","date-range":{"start-datetime":"2026-12-01T00:00:00","end-datetime":"2026-12-01T23:59:59"},"contact-info":"postmaster@mail.example.net","report-id":"mail.example.net-20261201-example.org","policies":[{"policy":{"policy-type":"tlsa","policy-string":["3 1 1 0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"],"policy-domain":"example.org"},"summary":{"total-successful-session-count":12,"total-failure-session-count":0}}]}'
for d in ("cur", "new", "tmp"): os.makedirs(C+"11-maildir/"+d, exist_ok=True)
open(C+"11-maildir/new/1764576000.M1P1.mx.example.org", "wb").write(eml_attachment("Report Domain: example.org Submitter: mail.example.net Report-ID: mail.example.net-20261201-example.org", "postmaster@mail.example.net", "application/tlsrpt+gzip", "mail.example.net!example.org!20261201!001.json.gz", gz(tls_small)))
open(C+"11-maildir/cur/.keep", "wb").write(b"")
open(C+"11-maildir/tmp/.keep", "wb").write(b"")
