package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dkimrelay/internal/testkit"
	"dkimrelay/relay/delivery"
	"dkimrelay/resolver/dnstest"
)

// TestTLSCommand asks what delivery to domains requires: one with an
// MTA-STS policy in enforce mode served over HTTPS by a host the test CA
// (tls_ca_file) vouches for, one without, and one the config lists in
// require_tls_domains.
func TestTLSCommand(t *testing.T) {
	t.Setenv("DKIMRELAY_CONFIG", "")
	ca := testkit.NewCA(t)
	srv := dnstest.NewServer(t)
	srv.AddZone(`
example.net.          MX 10 mx1.example.net.
example.net.          MX 20 backup.elsewhere.test.
mx1.example.net.      A  192.0.2.1
backup.elsewhere.test. A 192.0.2.2
mta-sts.example.net.  A  127.0.0.5
_mta-sts.example.net. TXT "v=STSv1; id=20261203"
plain.test.           MX 10 mx.plain.test.
mx.plain.test.        A  192.0.2.3
partner.test.         MX 10 mx.partner.test.
mx.partner.test.      A  192.0.2.4
`)
	port := testkit.ServePolicies(t, ca, "127.0.0.5", map[string]string{
		"example.net": "version: STSv1\nmode: enforce\nmx: mx1.example.net\nmax_age: 604800\n",
	})
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "dkimrelay.toml")
	if err := os.WriteFile(cfgPath, fmt.Appendf(nil, `hostname = "mail.example.org"
data_dir = "data"

[[domains]]
name = "example.org"

[delivery]
mta_sts_port = %d
tls_ca_file = %q
require_tls_domains = ["partner.test"]

[dns]
servers = [%q]
timeout = "2s"
`, port, caFile, srv.Addr()), 0o600); err != nil {
		t.Fatal(err)
	}
	tlsCmd := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
		code := run(e, append([]string{"--config", cfgPath, "tls"}, args...))
		return code, out.String() + errb.String()
	}

	code, out := tlsCmd("example.net", "--json")
	var ex delivery.Explanation
	if err := json.Unmarshal([]byte(out), &ex); code != 0 || err != nil {
		t.Fatalf("tls --json: exit %d, %v\n%s", code, err, out)
	}
	f := ex.MTASTS
	if f.Mode != "enforce" || f.ID != "20261203" || f.Source != "fetched" || f.MaxAge != 604800 ||
		!strings.HasPrefix(f.URL, "https://mta-sts.example.net:") || !strings.Contains(f.Text, "mode: enforce") {
		t.Errorf("MTA-STS finding %+v", f)
	}
	if len(ex.Hosts) != 2 || !ex.Hosts[0].Allowed || ex.Hosts[0].Policy != "mta-sts" ||
		ex.Hosts[1].Allowed || !strings.Contains(ex.Hosts[1].Requires, "not one the MTA-STS policy of example.net allows") {
		t.Errorf("hosts %+v", ex.Hosts)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "mta-sts")); !os.IsNotExist(err) {
		t.Errorf("tls wrote into the relay's data folder: %v", err)
	}

	code, out = tlsCmd("example.net")
	for _, want := range []string{"MTA-STS: mode enforce, mx mx1.example.net, max_age 604800s", "mx1.example.net  tls_policy mta-sts",
		"a certificate from a trusted root valid for mx1.example.net", "    | version: STSv1"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("tls example.net: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
	code, out = tlsCmd("plain.test")
	if code != 0 || !strings.Contains(out, "MTA-STS: no policy (no MTA-STS record)") || !strings.Contains(out, "tls_policy opportunistic") {
		t.Errorf("tls plain.test: exit %d\n%s", code, out)
	}
	code, out = tlsCmd("partner.test")
	if code != 0 || !strings.Contains(out, "require_tls_domains lists it") || !strings.Contains(out, "tls_policy required") {
		t.Errorf("tls partner.test: exit %d\n%s", code, out)
	}
	// tlsrpt send talks to the running relay; without one it says so.
	var out2, errb bytes.Buffer
	if code := run(&env{stdin: strings.NewReader(""), stdout: &out2, stderr: &errb}, []string{"--config", cfgPath, "tlsrpt", "send"}); code != exitFail || errb.Len() == 0 {
		t.Errorf("tlsrpt send without a relay: exit %d, stderr %q", code, errb.String())
	}
	if code, _ := tlsCmd(); code != exitUsage {
		t.Errorf("tls without a domain: exit %d, want %d", code, exitUsage)
	}
}
