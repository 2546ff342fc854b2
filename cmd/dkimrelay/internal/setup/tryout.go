package setup

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"dkimrelay/keys"
	"dkimrelay/users"
)

// Try-out relay: what `dkimrelay serve` runs when there is no config, so a
// newcomer sees a message accepted and queued a minute after cloning. It
// listens on loopback only, for the reserved domain dkimrelay.test (RFC
// 2606), and its key is active at once: nothing it signs can reach a real
// receiver, so there is no record to publish first.
const (
	TryDomain    = "dkimrelay.test"
	TryLogin     = "try"
	TryListen    = "127.0.0.1:2587"
	TryListenTLS = "127.0.0.1:2465"
)

// TryOut makes (or reuses) the try-out setup in dir and returns its config
// path, and the login's password when it was created now (it is printed
// once and never stored in clear).
func TryOut(dir string) (cfgPath, password string, err error) {
	cfgPath = filepath.Join(dir, ConfigName)
	if _, err := os.Stat(cfgPath); err == nil {
		return cfgPath, "", nil
	}
	res, err := Init(Options{Dir: dir, Domain: TryDomain, Hostname: "localhost", Listen: TryListen, ListenTLS: TryListenTLS, Algorithm: keys.Ed25519, LogFile: "-", Now: time.Now()})
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

// TryBanner is printed when the try-out relay starts.
func TryBanner(cfgPath, password string) string {
	pw := password
	if pw == "" {
		pw = "(printed when it was created; set a new one with `dkimrelay --config " + cfgPath + " users passwd try`)"
	}
	return fmt.Sprintf(`No config file found: running the try-out relay from %s
  STARTTLS submission on %s, implicit TLS on %s (self-signed certificate)
  login: %s   password: %s
  allowed senders: anything@%s
Send a test message:
  swaks --server %s --tls --auth PLAIN --auth-user %s --auth-password 'PASSWORD' \
        --from hello@%s --to someone@example.net
Then look at the queue in %s.
For a real domain run `+"`dkimrelay init --domain YOUR.DOMAIN`"+`.
`, filepath.Dir(cfgPath), TryListen, TryListenTLS, TryLogin, pw, TryDomain, TryListen, TryLogin, TryDomain, filepath.Join(filepath.Dir(cfgPath), "data", "queue"))
}
