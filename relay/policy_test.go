package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"

	"dkimrelay/config"
	"dkimrelay/internal/selfsigned"
	"dkimrelay/keys"
	"dkimrelay/resolver/dnstest"
	"dkimrelay/users"
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

// lockedBuffer collects the relay's log while sessions write it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// events returns the logged events named msg.
func (l *lockedBuffer) events(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(l.b.String(), "\n") {
		var ev map[string]any
		if json.Unmarshal([]byte(line), &ev) == nil && ev["msg"] == msg {
			out = append(out, ev)
		}
	}
	return out
}

const testPassword = "correct horse battery staple"

// startRelay runs a relay on loopback whose DNS is srv, with an active
// key for every policy domain and one login allowed to use them all.
func startRelay(t *testing.T, srv *dnstest.Server, spfPolicy string) (string, *lockedBuffer) {
	t.Helper()
	return startRelayWith(t, srv, spfPolicy, "")
}

// startRelayWith is startRelay with extra lines for the [submission] table.
func startRelayWith(t *testing.T, srv *dnstest.Server, spfPolicy, submission string) (string, *lockedBuffer) {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	fmt.Fprintf(&b, "hostname = \"relay.example.net\"\ndata_dir = \"data\"\n")
	fmt.Fprintf(&b, "[submission]\nlisten = [\"127.0.0.1:0\"]\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\nallow_insecure_auth = true\n%s\n", submission)
	for _, d := range policyDomains {
		fmt.Fprintf(&b, "[[domains]]\nname = %q\n", d)
	}
	fmt.Fprintf(&b, "[delivery]\negress_ips = [\"192.0.2.10\"]\nspf_policy = %q\nworkers = 1\n", spfPolicy)
	fmt.Fprintf(&b, "[dns]\nservers = [%q]\ntimeout = \"2s\"\n", srv.Addr())
	path := filepath.Join(dir, "dkimrelay.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := selfsigned.Write(cfg.Submission.TLSCert, cfg.Submission.TLSKey, cfg.Hostname); err != nil {
		t.Fatal(err)
	}
	st, err := keys.Open(cfg.KeysDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, d := range policyDomains {
		k, err := st.Generate(d, keys.Ed25519, "", now)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.Activate(d, k.Selector, now); err != nil {
			t.Fatal(err)
		}
	}
	allow := make([]string, len(policyDomains))
	for i, d := range policyDomains {
		allow[i] = "@" + d
	}
	if err := users.Update(cfg.UsersFile(), func(db *users.DB) error { return db.Add("app", testPassword, allow) }); err != nil {
		t.Fatal(err)
	}

	logs := &lockedBuffer{}
	r, err := New(cfg, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("relay: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for len(r.smtp.Addrs()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the relay did not start listening")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return r.smtp.Addrs()[0].String(), logs
}

// submit sends one message and returns the first refusal, nil when the
// message was accepted.
func submit(t *testing.T, addr, mailFrom, headerFrom string) *smtp.SMTPError {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("app.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(sasl.NewPlainClient("", "app", testPassword)); err != nil {
		t.Fatal(err)
	}
	refused := func(err error) *smtp.SMTPError {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return se
		}
		t.Fatal(err)
		return nil
	}
	if err := c.Mail(mailFrom, nil); err != nil {
		return refused(err)
	}
	if err := c.Rcpt("someone@dest.test", nil); err != nil {
		return refused(err)
	}
	w, err := c.Data()
	if err != nil {
		return refused(err)
	}
	fmt.Fprintf(w, "From: <%s>\r\nTo: <someone@dest.test>\r\nSubject: policy test\r\n\r\nHello.\r\n", headerFrom)
	if err := w.Close(); err != nil {
		return refused(err)
	}
	return nil
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
				for _, ev := range logs.events(c.event) {
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
	if ev := logs.events("spf"); len(ev) > 0 {
		t.Errorf("spf events under off: %v", ev)
	}
}
