package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"dkimrelay/config"
	"dkimrelay/keys"
	"dkimrelay/resolver/dnstest"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

// keysT0 is the fixed "now" of the key tests: 2026-11-15 10:00 UTC.
var keysT0 = time.Date(2026, 11, 15, 10, 0, 0, 0, time.UTC)

const keysDay = 24 * time.Hour

// otherKey is a record of a key no test store has.
const otherKey = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="

func keyAlg(t *testing.T, name string) keys.Algorithm {
	t.Helper()
	a, err := keys.ParseAlgorithm(name)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// keysSetup is a config for example.org whose DNS is a dnstest server on
// loopback; extra is appended to the config (a [keys] table).
type keysSetup struct {
	t      *testing.T
	dir    string
	config string
	dns    *dnstest.Server
	// replace is applied to every output, for the golden files: the
	// DNS server's port and the temporary folder change on every run.
	replace []string
}

func newKeysSetup(t *testing.T, extra string) *keysSetup {
	t.Helper()
	srv := dnstest.NewServer(t)
	srv.AddZone("example.org. SOA ns.example.org. hostmaster.example.org. 1 3600 600 86400 300\n")
	s := newKeysSetupDNS(t, srv.Addr(), extra)
	s.dns = srv
	return s
}

// newKeysSetupDNS is newKeysSetup with another DNS server, e.g. knot.
func newKeysSetupDNS(t *testing.T, dnsAddr, extra string) *keysSetup {
	t.Helper()
	t.Setenv("DKIMRELAY_CONFIG", "")
	s := &keysSetup{t: t, dir: t.TempDir()}
	s.config = filepath.Join(s.dir, "dkimrelay.toml")
	text := fmt.Sprintf(`hostname = "mail.example.org"
data_dir = "data"

[[domains]]
name = "example.org"

[dns]
servers = [%q]
timeout = "250ms"
%s`, dnsAddr, extra)
	if err := os.WriteFile(s.config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	s.replace = []string{dnsAddr, "127.0.0.1:53", s.dir, "/etc/dkimrelay"}
	return s
}

// store opens the key store of the config, to arrange situations and to
// read the outcome.
func (s *keysSetup) store() *keys.Store {
	s.t.Helper()
	cfg, err := config.Load(s.config)
	if err != nil {
		s.t.Fatal(err)
	}
	st, err := keys.Open(cfg.KeysDir())
	if err != nil {
		s.t.Fatal(err)
	}
	return st
}

// key reads one key of example.org.
func (s *keysSetup) key(sel string) *keys.Key {
	s.t.Helper()
	k, err := s.store().Get("example.org", sel)
	if err != nil {
		s.t.Fatal(err)
	}
	return k
}

// publish makes the DNS server serve the key's record.
func (s *keysSetup) publish(sel string) {
	s.t.Helper()
	zone, err := s.key(sel).Zone()
	if err != nil {
		s.t.Fatal(err)
	}
	s.dns.Add(zone)
}

// states lists "selector:state" of every key of example.org.
func (s *keysSetup) states() string {
	s.t.Helper()
	list, errs := s.store().List()
	if len(errs) > 0 {
		s.t.Fatalf("damaged keys: %v", errs)
	}
	var out []string
	for _, k := range list {
		out = append(out, k.Selector+":"+string(k.State))
	}
	return strings.Join(out, " ")
}

// cmd runs one `dkimrelay keys ...` command at the time now: rotate and
// prune through their clocked functions, the others through run.
func (s *keysSetup) cmd(now time.Time, args ...string) result {
	s.t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, configPath: s.config, configExplicit: true}
	var code int
	switch args[0] {
	case "rotate", "prune":
		f := keysRotate
		if args[0] == "prune" {
			f = keysPrune
		}
		code = keysExitCode(e, f(e, args[1:], now))
	default:
		code = run(e, append([]string{"--config", s.config, "keys"}, args...))
	}
	return result{code, s.normalize(out.String()), s.normalize(errb.String())}
}

// keysExitCode is run's mapping of a command's error, for the commands the
// tests call with a clock.
func keysExitCode(e *env, err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(e.stderr, "dkimrelay:", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFail
}

// publicKeyRE matches the p= value of a record, across the strings a long
// one is split into: keys are random, the rest of the text is not.
var publicKeyRE = regexp.MustCompile(`p=[A-Za-z0-9+/=]+("\s+"[A-Za-z0-9+/=]+)*`)

func (s *keysSetup) normalize(text string) string {
	text = strings.NewReplacer(s.replace...).Replace(text)
	return publicKeyRE.ReplaceAllString(text, "p=<public key>")
}

// keysTranscript records commands and their output as an administrator sees
// them, for a golden file that docs/keys.md quotes.
type keysTranscript struct {
	b strings.Builder
}

func (tr *keysTranscript) comment(format string, a ...any) {
	fmt.Fprintf(&tr.b, "# "+format+"\n", a...)
}

func (tr *keysTranscript) add(now time.Time, args []string, r result) {
	fmt.Fprintf(&tr.b, "$ dkimrelay keys %s    # %s\n", strings.Join(args, " "), now.Format("2006-01-02 15:04 UTC"))
	tr.b.WriteString(r.stdout)
	for _, l := range strings.SplitAfter(r.stderr, "\n") {
		if l != "" {
			tr.b.WriteString("stderr: " + l)
		}
	}
	if r.code != exitOK {
		fmt.Fprintf(&tr.b, "[exit %d]\n", r.code)
	}
	tr.b.WriteString("\n")
}

// keysGolden compares got with testdata/name, or rewrites it with -update.
func keysGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
