package setup

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"dkimrelay/keys"
	"dkimrelay/users"
)

// Try-out relay: what `dkimrelay serve` runs when there is no config, so a
// newcomer sees a signed message a minute after cloning. It listens on
// loopback only, for the reserved domain dkimrelay.test (RFC 2606), its key
// is active at once, and it delivers to files in TryOutbox instead of the
// Internet: nothing it signs can reach a real receiver, so there is no
// record to publish first and no port 25 needed.
const (
	TryDomain    = "dkimrelay.test"
	TryLogin     = "try"
	TryListen    = "127.0.0.1:2587"
	TryListenTLS = "127.0.0.1:2465"
	// TryOutbox is the outbox folder, relative to the try-out folder.
	TryOutbox = "outbox"
)

// TryOut makes (or reuses) the try-out setup in dir and returns its config
// path, and the login's password when it was created now (it is printed
// once and never stored in clear).
func TryOut(dir string) (cfgPath, password string, err error) {
	cfgPath = filepath.Join(dir, ConfigName)
	if _, err := os.Stat(cfgPath); err == nil {
		return cfgPath, "", nil
	}
	res, err := Init(Options{Dir: dir, Domain: TryDomain, Hostname: "localhost", Listen: TryListen, ListenTLS: TryListenTLS, Algorithm: keys.Ed25519, LogFile: "-", Outbox: TryOutbox, Now: time.Now()})
	if err != nil {
		return "", "", err
	}
	store, err := keys.Open(res.Config.KeysDir())
	if err != nil {
		return "", "", err
	}
	if _, _, err := store.Activate(TryDomain, res.Key.Selector, time.Now()); err != nil {
		return "", "", err
	}
	password = users.Generate()
	err = users.Update(res.Config.UsersFile(), func(db *users.DB) error {
		return db.Add(TryLogin, password, []string{"@" + TryDomain})
	})
	if err != nil {
		return "", "", err
	}
	return res.ConfigPath, password, nil
}

// TryBanner is printed when the try-out relay starts. program is how the
// reader runs dkimrelay ("dkimrelay", or "go run ./cmd/dkimrelay").
func TryBanner(cfgPath, password, program string) string {
	dir := filepath.Dir(cfgPath)
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, dir); err == nil && !strings.HasPrefix(rel, "..") {
			dir = rel
		}
	}
	cfg := filepath.Join(dir, ConfigName)
	pw := password
	if pw == "" {
		pw = "(printed when it was created; set a new one with `" + program + " --config " + cfg + " users passwd try`)"
	}
	return fmt.Sprintf(`No config file found: running the try-out relay from %[1]s
  STARTTLS submission on %[2]s, implicit TLS on %[3]s (self-signed certificate)
  login: %[4]s   password: %[5]s
  allowed senders: anything@%[6]s
Send a test message:
  swaks --server %[2]s --tls --auth PLAIN --auth-user %[4]s --auth-password 'PASSWORD' \
        --from hello@%[6]s --to someone@example.net
Nothing leaves this machine: each message is signed and written to %[7]s/QID.eml.
Check its signature (the "outbox" log line gives the exact command):
  %[8]s --config %[9]s verify --offline %[7]s/QID.eml
For a real domain run `+"`dkimrelay init --domain YOUR.DOMAIN`"+`.
`, dir, TryListen, TryListenTLS, TryLogin, pw, TryDomain, filepath.Join(dir, TryOutbox), program, cfg)
}
