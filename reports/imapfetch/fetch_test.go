package imapfetch

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dkimrelay/config"
	"dkimrelay/reports/imapfetch/dovecottest"
	"dkimrelay/reports/store"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/client"
)

const corpus = "../testdata/corpus"

// mailbox is a test's view of one Dovecot login.
type mailbox struct {
	t      *testing.T
	srv    *dovecottest.Server
	user   string
	pw     string
	client *client.Client
}

func open(t *testing.T, srv *dovecottest.Server, user, pw string) *mailbox {
	t.Helper()
	c := srv.Login(t, user, pw)
	c.ErrorLog = discard{}
	return &mailbox{t: t, srv: srv, user: user, pw: pw, client: c}
}

func (m *mailbox) append(folder string, msg []byte) {
	m.t.Helper()
	if err := m.client.Append(folder, nil, time.Now(), bytes.NewReader(msg)); err != nil {
		m.t.Fatalf("APPEND to %s: %v", folder, err)
	}
}

// flags lists the messages of folder by subject with their \Seen flag.
func (m *mailbox) contents(folder string) []string {
	m.t.Helper()
	st, err := m.client.Select(folder, true)
	if err != nil {
		m.t.Fatalf("SELECT %s: %v", folder, err)
	}
	if st.Messages == 0 {
		return nil
	}
	set := new(imap.SeqSet)
	set.AddRange(1, st.Messages)
	ch := make(chan *imap.Message, st.Messages)
	if err := m.client.Fetch(set, []imap.FetchItem{imap.FetchEnvelope, imap.FetchFlags}, ch); err != nil {
		m.t.Fatal(err)
	}
	var out []string
	for msg := range ch {
		seen := ""
		for _, f := range msg.Flags {
			if f == imap.SeenFlag {
				seen = " (seen)"
			}
		}
		subj, _, _ := strings.Cut(msg.Envelope.Subject, " Submitter")
		out = append(out, subj+seen)
	}
	return out
}

func corpusFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpus, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// googleMessage is a report mail as Google sends it: the zip as the whole
// body.
func googleMessage(t *testing.T) []byte {
	b64 := base64.StdEncoding.EncodeToString(corpusFile(t, "01-google.zip"))
	var lines []string
	for len(b64) > 76 {
		lines, b64 = append(lines, b64[:76]), b64[76:]
	}
	lines = append(lines, b64)
	return []byte("From: noreply-dmarc-support@google.com\r\nTo: dmarc-reports@example.org\r\n" +
		"Subject: Report domain: example.org Submitter: google.com Report-ID: 4815162342108\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: application/zip; name=\"google.com!example.org.zip\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + strings.Join(lines, "\r\n") + "\r\n")
}

func outOfOffice() []byte {
	return []byte("From: someone@example.net\r\nTo: dmarc-reports@example.org\r\nSubject: Out of office\r\n\r\nI am away until Monday.\r\n")
}

func writeSecret(t *testing.T, pw string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "imap-password")
	if err := os.WriteFile(path, []byte(pw+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, mode)
	return path
}

type logBuffer struct{ bytes.Buffer }

func newFetcher(t *testing.T, cfg config.ReportsIMAP, st store.Store) (*Fetcher, *logBuffer) {
	t.Helper()
	var logs logBuffer
	f, err := New(cfg, st, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	f.Timeout = 10 * time.Second
	return f, &logs
}

func TestFetchFromDovecot(t *testing.T) {
	srv := dovecottest.Start(t, map[string]string{"reports": "correct horse", "plain": "battery staple"})
	ctx := context.Background()
	box := open(t, srv, "reports", "correct horse")
	box.append("INBOX", googleMessage(t))
	box.append("INBOX", corpusFile(t, "03-microsoft.eml"))
	box.append("INBOX", outOfOffice())
	box.append("INBOX", corpusFile(t, "11-maildir/new/1764576000.M1P1.mx.example.org"))

	st, err := store.OpenFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.ReportsIMAP{
		Server: srv.TLSAddr, User: "reports", PasswordFile: writeSecret(t, "correct horse", 0o600),
		Folder: "INBOX", ProcessedFolder: "Imported", TLSCAFile: srv.CAFile,
		PollInterval: time.Minute,
	}
	f, logs := newFetcher(t, cfg, st)
	stats, err := f.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats != (Stats{Messages: 4, Reports: 3, Skipped: 1}) {
		t.Errorf("first poll: %+v", stats)
	}
	reports, _ := st.List(ctx, time.Time{})
	if len(reports) != 3 {
		t.Errorf("stored %d reports, want 3", len(reports))
	}
	// The reports moved out; the message without one stays, read.
	if got := box.contents("INBOX"); len(got) != 1 || got[0] != "Out of office (seen)" {
		t.Errorf("INBOX after the poll: %q", got)
	}
	if got := box.contents("Imported"); len(got) != 3 {
		t.Errorf("Imported after the poll: %q", got)
	}
	for _, want := range []string{`"msg":"report_imported"`, `"reporter":"google.com"`, `"added":true`,
		`"msg":"report_skipped"`, `no DMARC or TLS report attached to the message \"Out of office\"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %s:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), "correct horse") {
		t.Error("the password is in the log")
	}

	// Nothing new: nothing read. The same report again: read, stored
	// once, moved.
	if stats, err := f.Poll(ctx); err != nil || stats != (Stats{}) {
		t.Errorf("second poll: %+v, %v", stats, err)
	}
	box.append("INBOX", googleMessage(t))
	if stats, err := f.Poll(ctx); err != nil || stats != (Stats{Messages: 1, Reports: 1}) {
		t.Errorf("third poll: %+v, %v", stats, err)
	}
	if !strings.Contains(logs.String(), `"added":false`) {
		t.Error("the report mailed twice was not logged as already stored")
	}
	if reports, _ := st.List(ctx, time.Time{}); len(reports) != 3 {
		t.Errorf("stored %d reports after the same report again, want 3", len(reports))
	}
	if got := box.contents("Imported"); len(got) != 4 {
		t.Errorf("Imported after the third poll: %q", got)
	}
}

// TestFetchStartTLSMarkOnly: over STARTTLS, without a processed folder,
// imported messages stay in the folder, marked \Seen.
func TestFetchStartTLSMarkOnly(t *testing.T) {
	srv := dovecottest.Start(t, map[string]string{"plain": "battery staple"})
	box := open(t, srv, "plain", "battery staple")
	box.append("INBOX", corpusFile(t, "03-microsoft.eml"))
	big := append([]byte("From: a@example.net\r\nSubject: big\r\n\r\n"), bytes.Repeat([]byte("0123456789abcdef\r\n"), 8000)...)
	box.append("INBOX", big)
	st, _ := store.OpenFiles(t.TempDir())
	f, logs := newFetcher(t, config.ReportsIMAP{
		Server: srv.PlainAddr, StartTLS: true, User: "plain", PasswordFile: writeSecret(t, "battery staple", 0o600),
		Folder: "INBOX", TLSCAFile: srv.CAFile, PollInterval: time.Minute,
	}, st)
	// A message over the limit is passed over without being read.
	f.im.Limits.Input = 64 << 10
	if stats, err := f.Poll(context.Background()); err != nil || stats != (Stats{Messages: 2, Reports: 1, Skipped: 1}) {
		t.Fatalf("poll: %+v, %v", stats, err)
	}
	if got := box.contents("INBOX"); len(got) != 2 || !strings.HasSuffix(got[0], "(seen)") || got[1] != "big (seen)" {
		t.Errorf("INBOX: %q", got)
	}
	if !strings.Contains(logs.String(), "larger than the import limit of 65536 bytes") {
		t.Errorf("log: %s", logs)
	}
}

func TestFetchFailures(t *testing.T) {
	srv := dovecottest.Start(t, map[string]string{"reports": "correct horse"})
	st, _ := store.OpenFiles(t.TempDir())
	base := config.ReportsIMAP{Server: srv.TLSAddr, User: "reports", Folder: "INBOX", TLSCAFile: srv.CAFile,
		PollInterval: time.Minute}

	if _, err := New(withSecret(base, writeSecret(t, "correct horse", 0o644)), st, slog.Default()); err == nil ||
		!strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a password file readable by others: %v", err)
	}
	tests := []struct {
		name string
		cfg  config.ReportsIMAP
		want string
	}{
		{"wrong password", withSecret(base, writeSecret(t, "wrong", 0o600)), "logging in"},
		{"untrusted certificate", func() config.ReportsIMAP {
			c := withSecret(base, writeSecret(t, "correct horse", 0o600))
			c.TLSCAFile = ""
			return c
		}(), "TLS with"},
		{"no such folder", func() config.ReportsIMAP {
			c := withSecret(base, writeSecret(t, "correct horse", 0o600))
			c.Folder = "Nowhere"
			return c
		}(), `selecting folder "Nowhere"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := newFetcher(t, tt.cfg, st)
			_, err := f.Poll(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "correct horse") {
				t.Error("the password is in the error")
			}
		})
	}
}

func withSecret(c config.ReportsIMAP, path string) config.ReportsIMAP {
	c.PasswordFile = path
	return c
}

// TestFetchSilentServer: a server that accepts the connection and never
// greets fails the poll within the timeout.
func TestFetchSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() }) // held open, silent
		}
	}()
	st, _ := store.OpenFiles(t.TempDir())
	f, _ := newFetcher(t, config.ReportsIMAP{Server: ln.Addr().String(), User: "u", Folder: "INBOX",
		PasswordFile: writeSecret(t, "pw", 0o600), PollInterval: time.Minute}, st)
	f.Timeout = 500 * time.Millisecond
	start := time.Now()
	if _, err := f.Poll(context.Background()); err == nil || !strings.Contains(err.Error(), "TLS with") {
		t.Errorf("poll of a silent server: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the poll took %v", d)
	}
}
