package relay

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"

	"dkimrelay/internal/testkit"
	"dkimrelay/resolver/dnstest"
)

// policyZone gives each sending domain one SPF or DMARC situation. The
// relay's egress address is 192.0.2.10.
const policyZone = `
example.org.        TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.example.org. TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.org"
bounces.example.org. TXT "v=spf1 redirect=example.org"
other.example.      TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.other.example. TXT "v=DMARC1; p=none"
fail.example.       TXT "v=spf1 ip4:198.51.100.1 -all"
soft.example.       TXT "v=spf1 ip4:198.51.100.1 ~all"
perm.example.       TXT "v=spf1 ip4:192.0.2.10 include -all"
strict.example.     TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.strict.example. TXT "v=DMARC1; p=reject; aspf=s"
bounce.strict.example. TXT "v=spf1 ip4:192.0.2.10 -all"
nodmarc.example.    TXT "v=spf1 ip4:192.0.2.10 -all"
dmarctemp.example.  TXT "v=spf1 ip4:192.0.2.10 -all"
`

var policyDomains = []string{"example.org", "bounces.example.org", "other.example", "fail.example", "soft.example",
	"perm.example", "temp.example", "strict.example", "bounce.strict.example", "nodmarc.example", "dmarctemp.example"}

// startRelay runs a relay on loopback whose DNS is srv, with an active
// key for every policy domain and one login allowed to use them all.
func startRelay(t *testing.T, srv *dnstest.Server, spfPolicy string) (string, *testkit.Logs) {
	t.Helper()
	return startRelayWith(t, srv, spfPolicy, "")
}

// startRelayWith is startRelay with extra lines for the [submission] table.
func startRelayWith(t *testing.T, srv *dnstest.Server, spfPolicy, submission string) (string, *testkit.Logs) {
	t.Helper()
	var c testkit.TOML
	c.Line(`hostname = "relay.example.net"`)
	c.Line(`data_dir = "data"`)
	c.Table("submission", []string{`listen = ["127.0.0.1:0"]`, `tls_cert = "tls/cert.pem"`, `tls_key = "tls/key.pem"`,
		`allow_insecure_auth = true`}, submission)
	for _, d := range policyDomains {
		c.Line("[[domains]]\nname = %q", d)
	}
	c.Table("delivery", []string{`egress_ips = ["192.0.2.10"]`, fmt.Sprintf("spf_policy = %q", spfPolicy), "workers = 1", "allow_internal = true"}, "")
	c.Table("dns", []string{fmt.Sprintf("servers = [%q]", srv.Addr()), `timeout = "2s"`}, "")
	h := testkit.StartRelay(t, testkit.RelaySetup[*Relay]{New: newRelay, Config: c.String(), Domains: policyDomains})
	return h.Addr(), h.Logs
}

// submit sends one message and returns the first refusal, nil when the
// message was accepted.
func submit(t *testing.T, addr, mailFrom, headerFrom string) *smtp.SMTPError {
	t.Helper()
	c := dialFreed(t, addr)
	defer c.Close()
	if err := c.Hello("app.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(sasl.NewPlainClient("", "app", testkit.Password)); err != nil {
		t.Fatal(err)
	}
	msg := fmt.Sprintf("From: <%s>\r\nTo: <someone@dest.test>\r\nSubject: policy test\r\n\r\nHello.\r\n", headerFrom)
	_, se := testkit.Transact(t, c, mailFrom, []string{"someone@dest.test"}, msg)
	return se
}

// dialFreed connects to addr. The relay frees the connection slot of a
// session a moment after its client hung up, so with
// max_connections_per_ip the previous submission's slot may still be
// taken: a 421 "too many connections" greeting is retried for a while.
func dialFreed(t *testing.T, addr string) *smtp.Client {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := smtp.Dial(addr)
		if err == nil {
			return c
		}
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code != 421 || !strings.Contains(se.Message, "too many connections") || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var policyCases = []struct {
	name             string
	mailFrom, from   string
	code             int
	enhanced         smtp.EnhancedCode
	text             []string // in the reply under reject
	event, result    string   // the event logged under both policies
	acceptedUnderAll bool
}{
	{name: "SPF pass, aligned", mailFrom: "app@example.org", from: "app@example.org", event: "spf", result: "pass", acceptedUnderAll: true},
	{name: "relaxed SPF alignment", mailFrom: "app@bounces.example.org", from: "app@example.org", event: "spf", result: "pass", acceptedUnderAll: true},
	{name: "SPF fail", mailFrom: "app@fail.example", from: "app@fail.example", code: 550, enhanced: smtp.EnhancedCode{5, 7, 1},
		text: []string{"192.0.2.10", "fail.example", `add "ip4:192.0.2.10" to the SPF record of fail.example`}, event: "spf", result: "fail"},
	{name: "SPF softfail", mailFrom: "app@soft.example", from: "app@soft.example", code: 550, enhanced: smtp.EnhancedCode{5, 7, 1},
		text: []string{"SPF softfail", "192.0.2.10", "soft.example"}, event: "spf", result: "softfail"},
	{name: "SPF temperror", mailFrom: "app@temp.example", from: "app@temp.example", code: 451, enhanced: smtp.EnhancedCode{4, 4, 3},
		text: []string{"temp.example", "try again later"}, event: "spf", result: "temperror"},
	{name: "SPF permerror", mailFrom: "app@perm.example", from: "app@perm.example", code: 550, enhanced: smtp.EnhancedCode{5, 7, 1},
		text: []string{"SPF permerror for perm.example", `invalid term "include": include needs a domain`, "dkimrelay check --domain perm.example"}, event: "spf", result: "permerror"},
	{name: "DMARC misaligned MAIL FROM", mailFrom: "app@other.example", from: "app@example.org", code: 550, enhanced: smtp.EnhancedCode{5, 7, 1},
		text:  []string{"DMARC: the MAIL FROM domain other.example does not align with the From: domain example.org", "use a MAIL FROM address in example.org"},
		event: "dmarc", result: "misaligned"},
	{name: "DMARC strict", mailFrom: "app@bounce.strict.example", from: "app@strict.example", code: 550, enhanced: smtp.EnhancedCode{5, 7, 1},
		text: []string{"(aspf=s)", "strict alignment needs the same domain"}, event: "dmarc", result: "misaligned"},
	{name: "DMARC temperror", mailFrom: "app@dmarctemp.example", from: "app@dmarctemp.example", code: 451, enhanced: smtp.EnhancedCode{4, 4, 3},
		text: []string{"DMARC record of dmarctemp.example could not be looked up", "try again later"}, event: "dmarc", result: "temperror"},
	{name: "no DMARC record", mailFrom: "app@nodmarc.example", from: "app@nodmarc.example", event: "dmarc", result: "none", acceptedUnderAll: true},
}

func TestSubmissionSPFAndDMARC(t *testing.T) {
	srv := dnstest.NewServer(t)
	srv.AddZone(policyZone)
	srv.SetServfail("temp.example")
	srv.SetServfail("_dmarc.dmarctemp.example")
	for _, policy := range []string{"reject", "warn"} {
		t.Run(policy, func(t *testing.T) {
			addr, logs := startRelay(t, srv, policy)
			for _, c := range policyCases {
				se := submit(t, addr, c.mailFrom, c.from)
				if policy == "warn" || c.acceptedUnderAll {
					if se != nil {
						t.Errorf("%s: refused under %s: %d %v %s", c.name, policy, se.Code, se.EnhancedCode, se.Message)
					}
				} else if se == nil {
					t.Errorf("%s: accepted under reject", c.name)
				} else {
					t.Logf("%s: %d %v %s", c.name, se.Code, se.EnhancedCode, se.Message)
					if se.Code != c.code || se.EnhancedCode != c.enhanced {
						t.Errorf("%s: %d %v, want %d %v (%s)", c.name, se.Code, se.EnhancedCode, c.code, c.enhanced, se.Message)
					}
					for _, want := range c.text {
						if !strings.Contains(se.Message, want) {
							t.Errorf("%s: reply %q lacks %q", c.name, se.Message, want)
						}
					}
				}
				// SPF is about the MAIL FROM domain, DMARC about From:.
				domain := c.from[strings.IndexByte(c.from, '@')+1:]
				if c.event == "spf" {
					domain = c.mailFrom[strings.IndexByte(c.mailFrom, '@')+1:]
				}
				found := false
				for _, ev := range logs.Events(c.event) {
					if ev["result"] == c.result && ev["domain"] == domain {
						found = true
					}
				}
				if !found {
					t.Errorf("%s: no %s event with result %s under %s", c.name, c.event, c.result, policy)
				}
			}
		})
	}
}

func TestSubmissionPolicyOffLooksNothingUp(t *testing.T) {
	srv := dnstest.NewServer(t)
	srv.AddZone(policyZone)
	addr, logs := startRelay(t, srv, "off")
	if se := submit(t, addr, "app@other.example", "app@fail.example"); se != nil {
		t.Fatalf("refused under off: %d %s", se.Code, se.Message)
	}
	for _, q := range srv.Queries() {
		// Delivery asks for MX and addresses; SPF and DMARC for TXT.
		if q.Type == dns.TypeTXT {
			t.Errorf("spf_policy = \"off\" looked up %s", q.Name)
		}
	}
	if ev := logs.Events("spf"); len(ev) > 0 {
		t.Errorf("spf events under off: %v", ev)
	}
}
