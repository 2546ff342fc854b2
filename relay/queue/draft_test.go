package queue

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCommitThenReopen(t *testing.T) {
	dir := queueDir(t)
	q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
	received := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	sig2 := "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=r1; b=xyz=\r\n"
	env := Envelope{
		From:       "app@example.org",
		Rcpts:      []string{"x@example.net", "y@example.com", "x@example.net"},
		User:       "mastodon",
		Signatures: []string{testSig, sig2},
		Received:   received,
	}
	data := bytes.Repeat([]byte("Subject: big\r\n\r\n"+strings.Repeat("line of text\r\n", 100)), 200) // > draftBuffer
	id := commit(t, q, data, env)
	if !ValidID(id) {
		t.Fatalf("ID %q is not valid", id)
	}
	if got := files(t, dir); !slices.Equal(got, []string{id + ".msg"}) {
		t.Errorf("files after Commit: %v, want one file, %s.msg", got, id)
	}
	for _, name := range []string{id + ".msg"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("queue folder mode: %v %v, want 0700", fi.Mode().Perm(), err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}

	q = mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
	if q.Len() != 1 {
		t.Fatalf("Len after reopen = %d, want 1", q.Len())
	}
	m, err := q.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	want := Envelope{
		From:       env.From,
		Rcpts:      []string{"x@example.net", "y@example.com"},
		User:       env.User,
		Signatures: env.Signatures,
		Received:   received,
	}
	if m.ID != id || m.Size != int64(len(data)) || m.Envelope.From != want.From || m.Envelope.User != want.User ||
		!slices.Equal(m.Envelope.Rcpts, want.Rcpts) || !slices.Equal(m.Envelope.Signatures, want.Signatures) ||
		!m.Envelope.Received.Equal(received) {
		t.Errorf("Get = %+v, want ID %s size %d envelope %+v", m, id, len(data), want)
	}
	for _, r := range m.Rcpts {
		if r.State != Queued || r.Attempts != 0 || r.NextAttempt.After(time.Now()) {
			t.Errorf("recipient %+v, want queued and due", r)
		}
	}
	rc, err := q.Open(m)
	wire := readAll(t, rc, err)
	if want := append([]byte(testSig+sig2), data...); !bytes.Equal(wire, want) {
		t.Errorf("Open yields %d bytes, want signatures then the %d message bytes", len(wire), len(data))
	}
	rc, err = q.OpenRaw(id)
	if raw := readAll(t, rc, err); !bytes.Equal(raw, data) {
		t.Errorf("OpenRaw differs from the message written")
	}
}

func TestReceivedDefaultsToNow(t *testing.T) {
	clock := newFakeClock()
	q := mustOpen(t, Options{Dir: queueDir(t), Delivery: defaultDelivery, Now: clock.Now})
	id := commit(t, q, body("x"), Envelope{Rcpts: []string{"b@example.net"}})
	m, err := q.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Envelope.Received.Equal(clock.Now()) || m.Envelope.From != "" {
		t.Errorf("Received = %v From = %q, want %v and the null sender", m.Envelope.Received, m.Envelope.From, clock.Now())
	}
}

func TestDraftAbort(t *testing.T) {
	dir := queueDir(t)
	q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})

	d, err := q.NewDraft()
	if err != nil {
		t.Fatal(err)
	}
	d.Write(body("aborted"))
	if got := files(t, dir); !slices.Equal(got, []string{d.ID() + ".msg"}) {
		t.Fatalf("files while drafting: %v", got)
	}
	d.Abort()
	d.Abort()
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("files after Abort: %v", got)
	}
	if err := d.Commit(Envelope{Rcpts: []string{"b@example.net"}}); err == nil {
		t.Error("Commit after Abort succeeded")
	}

	d, err = q.NewDraft()
	if err != nil {
		t.Fatal(err)
	}
	d.Write(body("kept"))
	if err := d.Commit(Envelope{Rcpts: []string{"b@example.net"}}); err != nil {
		t.Fatal(err)
	}
	d.Abort() // after Commit: must not remove anything
	if _, err := d.Write([]byte("more")); err == nil {
		t.Error("Write after Commit succeeded")
	}
	if got := files(t, dir); !slices.Equal(got, []string{d.ID() + ".msg"}) {
		t.Errorf("files after Commit and Abort: %v", got)
	}
}

func TestCommitRejectsBadEnvelope(t *testing.T) {
	tests := []struct {
		name string
		env  Envelope
	}{
		{"no recipients", Envelope{From: "a@example.org"}},
		{"CRLF in recipient", Envelope{Rcpts: []string{"b@example.net\r\nDATA"}}},
		{"empty recipient", Envelope{Rcpts: []string{""}}},
		{"LF in sender", Envelope{From: "a@example.org\n", Rcpts: []string{"b@example.net"}}},
		{"signature without CRLF", Envelope{Rcpts: []string{"b@example.net"}, Signatures: []string{"DKIM-Signature: v=1"}}},
		{"signature with bare LF", Envelope{Rcpts: []string{"b@example.net"}, Signatures: []string{"DKIM-Signature: v=1;\n b=x\r\n"}}},
		{"signature unfolded second line", Envelope{Rcpts: []string{"b@example.net"}, Signatures: []string{"DKIM-Signature: v=1;\r\nb=x\r\n"}}},
		{"signature without name", Envelope{Rcpts: []string{"b@example.net"}, Signatures: []string{": v=1\r\n"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := queueDir(t)
			q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
			d, err := q.NewDraft()
			if err != nil {
				t.Fatal(err)
			}
			d.Write(body("bad"))
			if err := d.Commit(tt.env); err == nil {
				t.Fatal("Commit succeeded")
			}
			d.Abort()
			if got := files(t, dir); len(got) != 0 || q.Len() != 0 {
				t.Errorf("after failed Commit: files %v, Len %d", got, q.Len())
			}
		})
	}
}

// TestCommitStorageErrors injects a failure at each step of the commit
// protocol: the error must say whether the disk was full, and nothing may
// be left behind.
func TestCommitStorageErrors(t *testing.T) {
	enospc := func(op, p string) error { return &os.PathError{Op: op, Path: p, Err: syscall.ENOSPC} }
	edquot := func(op, p string) error { return &os.PathError{Op: op, Path: p, Err: syscall.EDQUOT} }
	eio := func(op, p string) error { return &os.PathError{Op: op, Path: p, Err: syscall.EIO} }
	tests := []struct {
		name    string
		op      string // fault operation
		suffix  string // of the path it concerns
		errFn   func(op, p string) error
		noSpace bool
	}{
		{"write message and trailer", "write", ".msg", enospc, true},
		{"sync message", "sync", ".msg", enospc, true},
		{"sync directory", "dirsync", "", enospc, true},
		{"quota", "write", ".msg", edquot, true},
		{"I/O error writing", "write", ".msg", eio, false},
		{"I/O error", "sync", ".msg", eio, false},
		{"I/O error directory", "dirsync", "", eio, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := queueDir(t)
			q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
			q.SetFaultHook(func(op, p string) error {
				if op == tt.op && strings.HasSuffix(p, tt.suffix) {
					return tt.errFn(op, p)
				}
				return nil
			})
			d, err := q.NewDraft()
			if err != nil {
				t.Fatal(err)
			}
			d.Write(body("full disk")) // buffered: the write error shows at Commit
			err = d.Commit(Envelope{Rcpts: []string{"b@example.net"}})
			if err == nil {
				t.Fatal("Commit succeeded")
			}
			if got := errors.Is(err, ErrNoSpace); got != tt.noSpace {
				t.Errorf("Commit error %q: errors.Is(ErrNoSpace) = %v, want %v", err, got, tt.noSpace)
			}
			d.Abort()
			if got := files(t, dir); len(got) != 0 || q.Len() != 0 {
				t.Errorf("after failed Commit: files %v, Len %d", got, q.Len())
			}

			q.SetFaultHook(nil)
			commit(t, q, body("later"), Envelope{Rcpts: []string{"b@example.net"}})
			if q.Len() != 1 {
				t.Errorf("commit after the fault cleared: Len %d", q.Len())
			}
		})
	}
}

func TestWriteNoSpace(t *testing.T) {
	dir := queueDir(t)
	q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
	q.SetFaultHook(func(op, p string) error {
		if op == "write" {
			return &os.PathError{Op: op, Path: p, Err: syscall.ENOSPC}
		}
		return nil
	})
	d, err := q.NewDraft()
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Write(make([]byte, 2*draftBuffer))
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Write of more than the buffer: %v, want ErrNoSpace", err)
	}
	if _, err2 := d.Write([]byte("x")); err2 == nil {
		t.Error("Write after an error succeeded")
	}
	if err := d.Commit(Envelope{Rcpts: []string{"b@example.net"}}); !errors.Is(err, ErrNoSpace) {
		t.Errorf("Commit after a failed Write: %v, want ErrNoSpace", err)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("files left: %v", got)
	}
}

func TestClosedQueue(t *testing.T) {
	dir := queueDir(t)
	q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
	d, err := q.NewDraft()
	if err != nil {
		t.Fatal(err)
	}
	d.Write(body("late"))
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Commit(Envelope{Rcpts: []string{"b@example.net"}}); !errors.Is(err, ErrClosed) {
		t.Errorf("Commit after Close: %v, want ErrClosed", err)
	}
	if _, err := q.NewDraft(); !errors.Is(err, ErrClosed) {
		t.Errorf("NewDraft after Close: %v, want ErrClosed", err)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("files left: %v", got)
	}
	if err := q.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestOneProcessPerQueue(t *testing.T) {
	dir := queueDir(t)
	mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
	if q2, err := Open(Options{Dir: dir, Delivery: defaultDelivery}); err == nil {
		q2.Close()
		t.Fatal("second Open of the same folder succeeded")
	}
}

// TestTLSFlagsSurviveReopen: REQUIRETLS and "TLS-Required: No" (RFC 8689)
// are part of the durable envelope.
func TestTLSFlagsSurviveReopen(t *testing.T) {
	dir := queueDir(t)
	q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
	strict := commit(t, q, []byte("Subject: a\r\n\r\nx\r\n"), Envelope{From: "a@example.org", Rcpts: []string{"b@example.net"}, RequireTLS: true})
	relaxed := commit(t, q, []byte("Subject: b\r\n\r\nx\r\n"), Envelope{From: "a@example.org", Rcpts: []string{"b@example.net"}, TLSOptional: true})
	plain := commit(t, q, []byte("Subject: c\r\n\r\nx\r\n"), Envelope{From: "a@example.org", Rcpts: []string{"b@example.net"}})
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q = mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
	for id, want := range map[string][2]bool{strict: {true, false}, relaxed: {false, true}, plain: {false, false}} {
		m, err := q.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		if got := [2]bool{m.Envelope.RequireTLS, m.Envelope.TLSOptional}; got != want {
			t.Errorf("%s: RequireTLS, TLSOptional = %v after reopening, want %v", id, got, want)
		}
	}
}

// TestCommitTrailerWriteFails: a message larger than the draft's buffer
// is on disk when Commit writes its trailer; a trailer that cannot be
// written fails the commit and removes the message.
func TestCommitTrailerWriteFails(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EIO} {
		t.Run(errno.Error(), func(t *testing.T) {
			dir := queueDir(t)
			q := mustOpen(t, Options{Dir: dir, Delivery: defaultDelivery})
			d, err := q.NewDraft()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.Write(bytes.Repeat([]byte("x"), 3*draftBuffer)); err != nil {
				t.Fatal(err)
			}
			q.SetFaultHook(func(op, p string) error {
				if op == "write" {
					return &os.PathError{Op: op, Path: p, Err: errno}
				}
				return nil
			})
			err = d.Commit(Envelope{Rcpts: []string{"b@example.net"}})
			if err == nil || errors.Is(err, ErrNoSpace) != (errno == syscall.ENOSPC) {
				t.Fatalf("Commit = %v, want an error (ErrNoSpace: %v)", err, errno == syscall.ENOSPC)
			}
			if got := files(t, dir); len(got) != 0 || q.Len() != 0 {
				t.Errorf("after failed Commit: files %v, Len %d", got, q.Len())
			}
		})
	}
}
