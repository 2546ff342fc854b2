package submission

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"dkimrelay/config"
	"dkimrelay/internal/testkit"
	"dkimrelay/keys"
	"dkimrelay/relay/ingest"
	"dkimrelay/relay/queue"
	"dkimrelay/users"
)

const benchPassword = "bench-password-0123456789"

// benchServer runs a submission server on loopback with a real queue (real
// fsyncs) in a temporary folder, one login, the keys in a real key store and
// no DNS checks (spf_policy = "off"), and returns its address.
func benchServer(b *testing.B, keys *ingest.Keyring) string {
	db := testUsers(b)
	addr, _ := testServer(b, func() *Snapshot { return &Snapshot{Users: db, Keys: keys} })
	return addr
}

// testUsers is the login database of one login, "app", with benchPassword,
// allowed to send from example.org.
func testUsers(tb testing.TB) *users.DB {
	tb.Helper()
	hash, err := users.Hash(benchPassword)
	if err != nil {
		tb.Fatal(err)
	}
	usersFile := filepath.Join(tb.TempDir(), "users.toml")
	if err := os.WriteFile(usersFile, []byte(fmt.Sprintf("[[user]]\nname = \"app\"\nhash = %q\nallow = [\"@example.org\"]\n", hash)), 0o600); err != nil {
		tb.Fatal(err)
	}
	db, err := users.Load(usersFile)
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

// testServer runs a submission server on loopback with a real queue in a
// temporary folder, the logins and keys snapshot gives and no DNS checks,
// and returns its address and queue.
func testServer(tb testing.TB, snapshot func() *Snapshot) (string, *queue.Queue) {
	tb.Helper()
	// Spares as the relay keeps them: a message costs its file fsync alone.
	q, err := queue.Open(queue.Options{Dir: filepath.Join(tb.TempDir(), "queue"), Delivery: config.Defaults().Delivery, Spares: queue.DefaultSpares})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { q.Close() })
	log := slog.New(slog.DiscardHandler)
	cert, _ := testkit.ServerCert(tb, "relay.test")
	sec := config.Defaults().Submission
	sec.Listen = []string{"127.0.0.1:0"}
	sec.MaxMessageSize = 10 << 20
	sec.MaxConnections = 100
	sec.MaxConnectionsPerIP = 100
	sec.AuthCacheTTL = 0 // every AUTH verified in full
	sec.CommandTimeout = time.Minute
	srv := New(Config{Submission: sec, Hostname: "relay.test", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}, Backend{Snapshot: snapshot, Ingest: ingest.New(q, log)}, log)
	if err := srv.Listen(); err != nil {
		tb.Fatal(err)
	}
	go srv.Serve()
	tb.Cleanup(func() { srv.Close() })
	return srv.Addrs()[0].String(), q
}

// benchKeyring makes a key store with an active RSA-2048 and an active
// Ed25519 key for example.org, and returns its keyring.
func benchKeyring(b *testing.B) *ingest.Keyring {
	return testKeyring(b, map[string]keys.Algorithm{"r": keys.RSA2048, "e": keys.Ed25519})
}

// testKeyring makes a key store with an active key for example.org of each
// selector, and returns its keyring.
func testKeyring(tb testing.TB, selectors map[string]keys.Algorithm) *ingest.Keyring {
	tb.Helper()
	st, err := keys.Open(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	for selector, alg := range selectors {
		if _, err := st.Generate("example.org", alg, selector, now); err != nil {
			tb.Fatal(err)
		}
		if _, _, err := st.Activate("example.org", selector, now); err != nil {
			tb.Fatal(err)
		}
	}
	snap, errs := st.Snapshot()
	if len(errs) > 0 {
		tb.Fatal(errs)
	}
	return ingest.NewKeyring(snap, []string{"example.org"})
}

// benchMessage is a notification of about size bytes: the header fields
// Mastodon sets and a quoted-printable-like body.
func benchMessage(seq, size int) []byte {
	var m bytes.Buffer
	fmt.Fprintf(&m, "From: Mastodon <notifications@example.org>\r\nTo: someone@example.net\r\n"+
		"Subject: alice favourited your post\r\nDate: Mon, 02 Jan 2006 15:04:05 +0000\r\n"+
		"Message-ID: <bench-%d@example.org>\r\nMime-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"+
		"List-Unsubscribe: <https://example.org/unsubscribe?t=%d>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\n", seq, seq)
	line := strings.Repeat("alice favourited your post: hello from the benchmark ", 2)[:74] + "\r\n"
	for m.Len() < size {
		m.WriteString(line)
	}
	return m.Bytes()
}

// BenchmarkSubmission measures the whole acceptance of a message as a
// client sees it, in process: over connections set up once (STARTTLS,
// AUTH PLAIN), MAIL, RCPT, DATA with header checks, DKIM signing with
// RSA-2048 and Ed25519, spooling with fsync of the message file (the
// envelope its trailer) and of the folder, the 250, then RSET. "c8" runs eight connections at once, where
// the queue's group commit pays off.
func BenchmarkSubmission(b *testing.B) {
	keys := benchKeyring(b)
	for _, bc := range []struct {
		name        string
		conns, size int
	}{
		{"c1/4KB", 1, 4 << 10},
		{"c8/4KB", 8, 4 << 10},
		{"c8/100KB", 8, 100 << 10},
	} {
		b.Run(bc.name, func(b *testing.B) {
			addr := benchServer(b, keys)
			clients := make([]*smtp.Client, bc.conns)
			for i := range clients {
				clients[i] = testkit.DialSubmission(b, addr, "app", benchPassword)
			}
			msg := benchMessage(0, bc.size)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			work := make(chan int)
			var wg sync.WaitGroup
			var mu sync.Mutex
			var firstErr error
			for _, c := range clients {
				wg.Go(func() {
					for range work {
						if err := submitOne(c, msg); err != nil {
							mu.Lock()
							if firstErr == nil {
								firstErr = err
							}
							mu.Unlock()
						}
					}
				})
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				work <- i
			}
			close(work)
			wg.Wait()
			b.StopTimer()
			if firstErr != nil {
				b.Fatal(firstErr)
			}
		})
	}
}

func submitOne(c *smtp.Client, msg []byte) error {
	if err := c.Mail("notifications@example.org", nil); err != nil {
		return err
	}
	if err := c.Rcpt("someone@example.net", nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Reset()
}
