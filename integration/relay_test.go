package integration

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dkimrelay/internal/testkit"
)

// How long the harness waits for the relay to come up or shut down. Generous
// because the machine is shared; nothing asserts on speed.
const (
	startTimeout = 20 * time.Second
	stopTimeout  = 20 * time.Second
)

// Submission logins every relay gets (see newRelay).
const (
	userFull    = "mastodon" // may send as anyone @example.org
	userLimited = "limited"  // may send only as notifications@example.org
)

// relay is one dkimrelay installation in its own directory, driven only
// through the CLI, the config file, signals, SMTP and its log file.
type relay struct {
	t      testing.TB
	dir    string
	config string // path of dkimrelay.toml
	cfg    relayConfig
	world  *world
	sinks  *sinkPair

	passwords map[string]string // login -> password
	secrets   []string          // must never show up in a log or output

	proc *testkit.Process // `dkimrelay serve`, while it runs
	out  *os.File         // serve's stdout and stderr, kept across restarts
}

type relayOptions struct {
	// configure adjusts the config before it is written.
	configure func(*relayConfig)
	// extraKeys are algorithms (as `keys generate --algorithm` takes them)
	// of further keys to generate, publish and activate before serving.
	extraKeys []string
	// noServe leaves the relay stopped after setup.
	noServe bool
}

// newRelay installs a relay the way an administrator would: init, the
// config, publish and activate the DKIM key(s), add the logins, serve. It
// delivers to the sinks in mx mode through the world's DNS. Everything is
// undone when the test ends.
func newRelay(t testing.TB, w *world, sinks *sinkPair, opts relayOptions) *relay {
	t.Helper()
	r := &relay{
		t:         t,
		dir:       t.TempDir(),
		world:     w,
		sinks:     sinks,
		passwords: map[string]string{},
	}
	r.config = filepath.Join(r.dir, "dkimrelay.toml")

	cfg := defaultConfig()
	cfg.Listen = "127.0.0.1:" + testkit.FreePort(t, "127.0.0.1")
	cfg.ListenTLS = "127.0.0.1:" + testkit.FreePort(t, "127.0.0.1")
	cfg.DNS = w.addr()
	cfg.Delivery.Port = sinks.Port
	if opts.configure != nil {
		opts.configure(&cfg)
	}

	r.init(cfg.Listen)
	r.writeConfig(cfg)
	t.Cleanup(r.cleanup)

	for _, k := range r.keys() {
		if k.Domain == "example.org" && k.State == "pending" {
			r.publishAndActivate(k, true)
		}
	}
	for _, alg := range opts.extraKeys {
		before := r.keys()
		r.mustCLI("", "keys", "generate", "--domain", "example.org", "--algorithm", alg)
		for _, k := range r.keys() {
			if !containsKey(before, k) && k.State == "pending" {
				r.publishAndActivate(k, true)
			}
		}
	}
	if n := len(r.activeKeys("example.org")); n != 1+len(opts.extraKeys) {
		t.Fatalf("relay setup: %d active key(s) for example.org, want %d: %+v", n, 1+len(opts.extraKeys), r.keys())
	}

	r.addUser(userFull, "@example.org")
	r.addUser(userLimited, "notifications@example.org")

	if !opts.noServe {
		r.start()
	}
	return r
}

// init runs `dkimrelay init` and checks the files it promises.
func (r *relay) init(listen string) string {
	r.t.Helper()
	out, err := r.run("", "init", "--domain", "example.org", "--dir", r.dir,
		"--hostname", "mail.example.org", "--listen", listen)
	if err != nil {
		r.t.Fatalf("dkimrelay init: %v", err)
	}
	for _, f := range []string{"dkimrelay.toml", "tls/cert.pem", "tls/key.pem", "data"} {
		if _, err := os.Stat(filepath.Join(r.dir, f)); err != nil {
			r.t.Fatalf("dkimrelay init did not create %s: %v\noutput:\n%s", f, err, out)
		}
	}
	return out
}

// writeConfig replaces dkimrelay.toml with cfg.
func (r *relay) writeConfig(cfg relayConfig) {
	r.t.Helper()
	r.cfg = cfg
	if err := os.WriteFile(r.config, []byte(cfg.render()), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

// keyInfo is one row of `keys list --json`.
type keyInfo struct {
	Domain    string `json:"domain"`
	Selector  string `json:"selector"`
	Algorithm string `json:"algorithm"`
	State     string `json:"state"`
}

func containsKey(list []keyInfo, k keyInfo) bool {
	for _, x := range list {
		if x.Domain == k.Domain && x.Selector == k.Selector {
			return true
		}
	}
	return false
}

func (r *relay) keys() []keyInfo {
	r.t.Helper()
	out := r.mustCLI("", "keys", "list", "--json")
	var list []keyInfo
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		r.t.Fatalf("keys list --json: not a JSON array of keys: %v\n%s", err, out)
	}
	return list
}

func (r *relay) activeKeys(domain string) []keyInfo {
	var out []keyInfo
	for _, k := range r.keys() {
		if k.Domain == domain && k.State == "active" {
			out = append(out, k)
		}
	}
	return out
}

// publishAndActivate puts the key's record into the test DNS and activates
// it, with --force or relying on the relay's own DNS check.
func (r *relay) publishAndActivate(k keyInfo, force bool) {
	r.t.Helper()
	value := r.mustCLI("", "keys", "dns", "--domain", k.Domain, "--selector", k.Selector, "--value")
	r.world.publishDKIM(r.t, k.Domain, k.Selector, value)
	args := []string{"keys", "activate", "--domain", k.Domain, "--selector", k.Selector}
	if force {
		args = append(args, "--force")
	}
	r.mustCLI("", args...)
}

// addUser creates a login with a fresh random password read from stdin.
func (r *relay) addUser(name string, allow ...string) {
	r.t.Helper()
	pw := randomSecret()
	args := []string{"users", "add", name}
	for _, a := range allow {
		args = append(args, "--allow", a)
	}
	r.mustCLI(pw+"\n", args...)
	r.passwords[name] = pw
	r.secrets = append(r.secrets, pw)
}

// run runs the binary with --config and returns its stdout; the error
// carries the exit status and stderr.
func (r *relay) run(stdin string, args ...string) (string, error) {
	full := append([]string{"--config", r.config}, args...)
	if len(args) > 0 && args[0] == "init" {
		full = args // init creates the config; --config would point at nothing yet
	}
	cmd := exec.Command(relayBinary, full...)
	cmd.Dir = r.dir
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("dkimrelay %s: %w\nstderr: %s\nstdout: %s",
			strings.Join(args, " "), err, stderr.String(), stdout.String())
	}
	return stdout.String(), nil
}

func (r *relay) mustCLI(stdin string, args ...string) string {
	r.t.Helper()
	out, err := r.run(stdin, args...)
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

// start runs `dkimrelay serve` and waits until both listeners accept.
func (r *relay) start() {
	r.t.Helper()
	if r.proc != nil {
		r.t.Fatal("relay: start while running")
	}
	if r.out == nil {
		f, err := os.OpenFile(filepath.Join(r.dir, "serve.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			r.t.Fatal(err)
		}
		r.out = f
	}
	cmd := exec.Command(relayBinary, "--config", r.config, "serve")
	cmd.Dir = r.dir
	cmd.Stdout, cmd.Stderr = r.out, r.out
	r.proc = testkit.StartProcess(r.t, cmd)
	// Ready when both listeners accept.
	r.proc.AwaitReady(startTimeout, func() bool {
		for _, addr := range []string{r.cfg.Listen, r.cfg.ListenTLS} {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				return false
			}
			c.Close()
		}
		return true
	}, func() string { return r.tail("serve.out", 30) })
}

// stop sends SIGTERM (a graceful drain) and waits for the exit.
func (r *relay) stop() {
	r.t.Helper()
	if r.proc == nil {
		return
	}
	st, inTime := r.proc.Stop(stopTimeout)
	if !inTime {
		r.t.Errorf("dkimrelay serve did not exit %v after SIGTERM; killed it", stopTimeout)
	}
	if st != nil && !st.Success() {
		r.t.Errorf("dkimrelay serve exited with %v after SIGTERM, want 0", st)
	}
	r.proc = nil
}

// kill is a crash: SIGKILL, no chance to clean up.
func (r *relay) kill() {
	r.t.Helper()
	if r.proc == nil {
		return
	}
	r.proc.Kill()
	r.proc = nil
}

// cleanup stops the relay, checks that no secret leaked into its output or
// log, and on failure shows the end of both.
func (r *relay) cleanup() {
	r.stop()
	if r.out != nil {
		r.out.Close()
	}
	for _, f := range []string{"relay.log", "serve.out"} {
		data, _ := os.ReadFile(filepath.Join(r.dir, f))
		for _, s := range r.secrets {
			if bytes.Contains(data, []byte(s)) {
				r.t.Errorf("a password appears in %s (secrets must never be logged)", f)
			}
		}
	}
	if r.t.Failed() {
		r.t.Logf("relay dir %s\n--- serve.out (end) ---\n%s\n--- relay.log (end) ---\n%s",
			r.dir, r.tail("serve.out", 20), r.tail("relay.log", 40))
	}
}

// tail returns the last n lines of a file in the relay's directory.
func (r *relay) tail(name string, n int) string {
	data, err := os.ReadFile(filepath.Join(r.dir, name))
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// password returns a login's password.
func (r *relay) password(user string) string { return r.passwords[user] }

func randomSecret() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "pw-" + hex.EncodeToString(b)
}

// writeSecretFile writes a 0600 file holding secret, for *_password_file
// settings, and returns its path.
func writeSecretFile(t testing.TB, dir, name, secret string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
