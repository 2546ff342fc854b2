package testkit

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"dkimrelay/config"
	"dkimrelay/internal/selfsigned"
	"dkimrelay/keys"
	"dkimrelay/resolver/dnstest"
	"dkimrelay/users"
)

// Daemon is the relay as the harness runs it (a *relay.Relay: the kit
// cannot import the package whose tests use it).
type Daemon interface {
	Run(ctx context.Context) error
	SubmissionAddrs() []net.Addr
}

// Password is the password of the harness's login.
const Password = "correct horse battery staple"

// RelaySetup says how to build and run a relay.
type RelaySetup[D Daemon] struct {
	// New builds the relay from its config (relay.New).
	New func(*config.Config, *slog.Logger) (D, error)
	// Config is the config file; its paths are relative to the relay's
	// temporary directory. The harness writes a self-signed certificate
	// where its [submission] table's tls_cert and tls_key say.
	Config string
	// Domains get an active Ed25519 key each, published in DNS when set.
	Domains []string
	DNS     *dnstest.Server
	// User (default "app") may send as any address of Domains with
	// Password.
	User string
	// Logger, when set, makes the relay's logger (to the file of the
	// config's [log] table, say) and what to close when it stops;
	// otherwise the relay logs JSON to Logs.
	Logger func(cfg *config.Config) (*slog.Logger, func(), error)
	// BeforeRun, when set, runs between New and Run: the place to install
	// a queue fault hook while nothing else uses the queue.
	BeforeRun func(D)
}

// Relay is one relay under test, run in this process. Stop and Start run
// it again on the same directory, as a restart would.
type Relay[D Daemon] struct {
	T          testing.TB
	Dir        string // the temporary directory of the config and data
	ConfigPath string
	Config     *config.Config
	Logs       *Logs
	Keys       map[string]*keys.Key // the key made for each domain
	Daemon     D                    // the running relay, once started

	setup  RelaySetup[D]
	cancel context.CancelFunc
	done   chan error
}

// PrepareRelay writes the config, a self-signed certificate, a key for
// each domain (published in setup.DNS) and the login, without starting.
func PrepareRelay[D Daemon](t testing.TB, setup RelaySetup[D]) *Relay[D] {
	t.Helper()
	if setup.User == "" {
		setup.User = "app"
	}
	h := &Relay[D]{T: t, Dir: t.TempDir(), Logs: NewLogs(t), Keys: map[string]*keys.Key{}, setup: setup}
	h.ConfigPath = filepath.Join(h.Dir, "dkimrelay.toml")
	if err := os.WriteFile(h.ConfigPath, []byte(setup.Config), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(h.ConfigPath)
	if err != nil {
		t.Fatalf("%v\n%s", err, setup.Config)
	}
	h.Config = cfg
	if err := selfsigned.Write(cfg.Submission.TLSCert, cfg.Submission.TLSKey, cfg.Hostname); err != nil {
		t.Fatal(err)
	}
	st, err := keys.Open(cfg.KeysDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	allow := make([]string, len(setup.Domains))
	for i, d := range setup.Domains {
		k, err := st.Generate(d, keys.Ed25519, "", now)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.Activate(d, k.Selector, now); err != nil {
			t.Fatal(err)
		}
		h.Keys[d] = k
		if setup.DNS != nil {
			PublishKey(t, setup.DNS, k)
		}
		allow[i] = "@" + d
	}
	if err := users.Update(cfg.UsersFile(), func(db *users.DB) error {
		return db.Add(setup.User, Password, allow)
	}); err != nil {
		t.Fatal(err)
	}
	return h
}

// StartRelay is PrepareRelay and Start.
func StartRelay[D Daemon](t testing.TB, setup RelaySetup[D]) *Relay[D] {
	t.Helper()
	h := PrepareRelay(t, setup)
	h.Start()
	return h
}

// PublishKey adds k's DKIM record to the test DNS.
func PublishKey(t testing.TB, dns *dnstest.Server, k *keys.Key) {
	t.Helper()
	zone, err := k.Zone()
	if err != nil {
		t.Fatal(err)
	}
	dns.AddZone(zone)
}

// Start runs the relay until Stop or the end of the test, and waits until
// every submission listener is open.
func (h *Relay[D]) Start() {
	h.T.Helper()
	log, closeLog := h.Logs.Logger(), func() {}
	if h.setup.Logger != nil {
		var err error
		if log, closeLog, err = h.setup.Logger(h.Config); err != nil {
			h.T.Fatal(err)
		}
	}
	d, err := h.setup.New(h.Config, log)
	if err != nil {
		closeLog()
		h.T.Fatal(err)
	}
	if h.setup.BeforeRun != nil {
		h.setup.BeforeRun(d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	h.Daemon, h.cancel, h.done = d, cancel, done
	go func() { done <- d.Run(ctx); closeLog() }()
	h.T.Cleanup(h.Stop)
	want := len(h.Config.Submission.Listen) + len(h.Config.Submission.ListenTLS)
	deadline := time.Now().Add(10 * time.Second)
	for len(d.SubmissionAddrs()) < want {
		select {
		case err := <-h.done:
			h.cancel = nil
			h.T.Fatalf("the relay stopped while starting: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			h.T.Fatal("the relay did not start listening")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop drains the relay; it does nothing when it is not running.
func (h *Relay[D]) Stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	if err := <-h.done; err != nil {
		h.T.Errorf("relay: %v", err)
	}
	h.cancel = nil
}

// Addr is the first STARTTLS listener, TLSAddr the first implicit-TLS one
// (when the config has STARTTLS listeners too).
func (h *Relay[D]) Addr() string { return h.Daemon.SubmissionAddrs()[0].String() }

// TLSAddr is the first implicit-TLS listener.
func (h *Relay[D]) TLSAddr() string {
	return h.Daemon.SubmissionAddrs()[len(h.Config.Submission.Listen)].String()
}

// WaitEvent waits for an event named msg for which match (nil: any) is
// true, and returns it.
func (h *Relay[D]) WaitEvent(msg string, timeout time.Duration, match func(ev map[string]any) bool) map[string]any {
	h.T.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, ev := range h.Logs.Events(msg) {
			if match == nil || match(ev) {
				return ev
			}
		}
		if time.Now().After(deadline) {
			h.T.Fatalf("no %q event within %v; log:\n%s", msg, timeout, h.Logs.Tail(6000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// EventsFor returns the events named msg of message qid.
func (h *Relay[D]) EventsFor(msg, qid string) []map[string]any {
	var out []map[string]any
	for _, ev := range h.Logs.Events(msg) {
		if ev["qid"] == qid {
			out = append(out, ev)
		}
	}
	return out
}
