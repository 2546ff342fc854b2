package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// domain is the sending domain of the bench, as in bench/compare.sh.
const domain = "bench.test"

// relayConfig is bench/compare.sh's dkimrelay.toml ("--- dkimrelay ---")
// with one addition: retry_min. The copies keep the original's next
// attempt, the relay's default minute after its first try; with a large
// queue, writing the copies and the measurements can take longer than that,
// and a restart would then meet every message due at once and fail them
// all against the absent destination (32 workers, one fsync'd envelope
// rewrite each) while it is being measured. The issue asks about messages
// waiting for their next attempt, so they are made to wait an hour.
const relayConfig = `hostname = "dkimrelay.%[1]s"
data_dir = "data"

[submission]
listen = ["127.0.0.1:%[2]d"]
tls_cert = "tls/cert.pem"
tls_key = "tls/key.pem"
# The queue is filled on a few connections, RSET between messages.
max_messages_per_session = 100000000
max_session_lifetime = "24h"

[[domains]]
name = "%[1]s"

[delivery]
mode = "smarthost"
smarthost = "127.0.0.1:%[3]d"
smarthost_insecure_skip_verify = true
# As in bench/compare.sh: the sink is on this machine.
allow_internal = true
# No DNS here, as in bench/compare.sh.
spf_policy = "off"
# See bench/bigqueue/setup.go: the copies must not fall due while measured.
retry_min = "1h"

[log]
file = "dkimrelay.log"
`

// relayFiles are the paths of the relay's folder.
type relayFiles struct {
	dir     string // holds dkimrelay.toml and the data dir
	config  string
	log     string
	queue   string // data/queue
	records string // the DKIM TXT records, for the sink
}

func newRelayFiles(work string) relayFiles {
	dir := filepath.Join(work, "dkimrelay")
	return relayFiles{
		dir:     dir,
		config:  filepath.Join(dir, "dkimrelay.toml"),
		log:     filepath.Join(dir, "dkimrelay.log"),
		queue:   filepath.Join(dir, "data", "queue"),
		records: filepath.Join(work, "records.zone"),
	}
}

// moduleRoot finds the dkimrelay module the bench builds from: the one
// the current folder is in.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w: install Go 1.26 or give the binaries with -bin DIR", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the dkimrelay module: run the bench from the repository, or give the binaries with -bin DIR")
	}
	return filepath.Dir(mod), nil
}

// build compiles dkimrelay and relaysink into dir.
func build(ctx context.Context, dir string) error {
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(filepath.Separator), "./cmd/dkimrelay", "./cmd/relaysink")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	return nil
}

// checkBinaries makes sure dir holds both programs, so that a wrong -bin
// fails at once rather than halfway through.
func checkBinaries(dir string) error {
	for _, name := range []string{"dkimrelay", "relaysink"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("no executable %s in %s: build it with `go build -o %s/ ./cmd/dkimrelay ./cmd/relaysink`", name, dir, dir)
		}
	}
	return nil
}

// ports returns the relay's submission port and the sink's. A base of 0
// picks two free loopback ports (for tests, which may run beside a bench).
func ports(base int) (relay, sink int, err error) {
	if base != 0 {
		return base, base + 1, nil
	}
	free := func() (int, error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port, nil
	}
	if relay, err = free(); err == nil {
		sink, err = free()
	}
	for err == nil && sink == relay {
		sink, err = free()
	}
	return relay, sink, err
}

// newPassword returns a random password for the bench's login. It goes to
// `users add` on stdin and to AUTH, never on a command line.
func newPassword() string {
	b := make([]byte, 18)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// cli runs the dkimrelay command line on the bench's config and returns
// its standard output.
type cli struct {
	bin    string
	config string
}

func (c cli) run(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	var cmd *exec.Cmd
	if c.config == "" {
		cmd = exec.CommandContext(ctx, c.bin, args...)
	} else {
		cmd = exec.CommandContext(ctx, c.bin, append([]string{"--config", c.config}, args...)...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("dkimrelay %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// setupRelay makes the relay's folder as bench/compare.sh does for
// dkimrelay: init, the config, an Ed25519 key beside init's RSA one, every
// key active, one login, and the DNS records the sink verifies against.
func setupRelay(ctx context.Context, bin string, f relayFiles, relayPort, sinkPort int, user, password string) error {
	if _, err := (cli{bin: bin}).run(ctx, nil, "init", "--domain", domain, "--dir", f.dir, "--listen", "127.0.0.1:"+strconv.Itoa(relayPort)); err != nil {
		return err
	}
	if err := os.WriteFile(f.config, fmt.Appendf(nil, relayConfig, domain, relayPort, sinkPort), 0o600); err != nil {
		return err
	}
	dr := cli{bin: bin, config: f.config}
	if _, err := dr.run(ctx, nil, "keys", "generate", "--domain", domain, "--algorithm", "ed25519"); err != nil {
		return err
	}
	out, err := dr.run(ctx, nil, "keys", "list", "--json")
	if err != nil {
		return err
	}
	var keys []struct {
		Domain   string `json:"domain"`
		Selector string `json:"selector"`
	}
	if err := json.Unmarshal(out, &keys); err != nil {
		return fmt.Errorf("reading `keys list --json`: %w", err)
	}
	if len(keys) != 2 {
		return fmt.Errorf("`keys list --json` lists %d keys, want 2 (init's and the Ed25519 one)", len(keys))
	}
	for _, k := range keys {
		if _, err := dr.run(ctx, nil, "keys", "activate", "--domain", k.Domain, "--selector", k.Selector, "--force"); err != nil {
			return err
		}
	}
	if _, err := dr.run(ctx, strings.NewReader(password+"\n"), "users", "add", user, "--allow", "@"+domain); err != nil {
		return err
	}
	records, err := dr.run(ctx, nil, "keys", "dns", "--domain", domain)
	if err != nil {
		return err
	}
	return os.WriteFile(f.records, records, 0o644)
}
