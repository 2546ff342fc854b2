package queue

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"dkimrelay/config"
)

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *fakeClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// defaultDelivery is the [delivery] section of a config that sets none of
// it: the queue's schedule in production.
var defaultDelivery = config.Defaults().Delivery

// retrySchedule is defaultDelivery with the given retry delays and lifetime.
func retrySchedule(retryMin, retryMax, lifetime time.Duration) config.Delivery {
	d := defaultDelivery
	d.RetryMin, d.RetryMax, d.MaxLifetime = retryMin, retryMax, lifetime
	return d
}

func mustOpen(t testing.TB, opts Options) *Queue {
	t.Helper()
	q, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

const testSig = "DKIM-Signature: v=1; a=ed25519-sha256; d=example.org; s=s1;\r\n\th=from:to; bh=abc=; b=def=\r\n"

// body is a small message with a header and a body.
func body(tag string) []byte {
	return []byte("From: a@example.org\r\nTo: b@example.net\r\nSubject: " + tag + "\r\n\r\nHello " + tag + "\r\n")
}

func commit(t testing.TB, q *Queue, data []byte, env Envelope) string {
	t.Helper()
	d, err := q.NewDraft()
	if err != nil {
		t.Fatalf("NewDraft: %v", err)
	}
	if _, err := d.Write(data); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := d.Commit(env); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return d.ID()
}

func readAll(t testing.TB, rc io.ReadCloser, err error) []byte {
	t.Helper()
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return b
}

// files lists the queue folder's regular files, sorted.
func files(t testing.TB, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if de.Type().IsRegular() {
			out = append(out, de.Name())
		}
	}
	slices.Sort(out)
	return out
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func queueDir(t testing.TB) string { return filepath.Join(t.TempDir(), "queue") }

// failedOf returns the changes of recipients that failed for good.
func failedOf(changes []Change) []Change {
	var failed []Change
	for _, c := range changes {
		if c.State.Failed() {
			failed = append(failed, c)
		}
	}
	return failed
}

// nextOf returns the earliest next attempt of the deferred recipients
// among changes, zero when none was deferred.
func nextOf(changes []Change) time.Time {
	var next time.Time
	for _, c := range changes {
		if c.State == Deferred && (next.IsZero() || c.NextAttempt.Before(next)) {
			next = c.NextAttempt
		}
	}
	return next
}

// nextDue returns the earliest next attempt of message id's pending
// recipients.
func nextDue(t *testing.T, q *Queue, id string) time.Time {
	t.Helper()
	m, err := q.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	var next time.Time
	for _, r := range m.Rcpts {
		if r.State.Pending() && (next.IsZero() || r.NextAttempt.Before(next)) {
			next = r.NextAttempt
		}
	}
	return next
}
