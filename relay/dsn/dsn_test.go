package dsn

import (
	"bufio"
	"bytes"
	"flag"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const original = "Received: from app (localhost [127.0.0.1])\r\n" +
	"\tby mail.example.org with ESMTPSA id 4AbC; Tue, 03 Mar 2026 10:00:00 +0000\r\n" +
	"From: Mastodon <notifications@example.org>\r\n" +
	"To: alice@example.net, bob@example.com\r\n" +
	"Subject: New follower\r\n" +
	"\r\n" +
	"SECRET BODY LINE that must never be returned\r\n"

func fixedBounce() *Bounce {
	return &Bounce{
		ReportingMTA: "mail.example.org",
		To:           "notifications@example.org",
		QID:          "4AbC",
		Arrival:      time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC),
		Failures: []Failure{
			{
				Rcpt:      "alice@example.net",
				Status:    "5.1.1",
				Reply:     "mx1.example.net said: 550 5.1.1 <alice@example.net>: Recipient address rejected: User unknown in virtual mailbox table",
				RemoteMTA: "mx1.example.net",
			},
			{
				Rcpt:    "bob@example.com",
				Status:  "4.4.1",
				Reply:   "connection to mx.example.com refused",
				Expired: true,
			},
		},
		Date:      time.Date(2026, 3, 8, 10, 0, 5, 0, time.UTC),
		MessageID: "<bounce.4AbC@mail.example.org>",
		Boundary:  "=_dsn_fixedboundary",
	}
}

func render(t *testing.T, b *Bounce, orig io.Reader) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := b.WriteTo(&buf, orig); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	utf8 := fixedBounce()
	utf8.Failures = []Failure{{Rcpt: "josé@exemple.fr", Status: "5.1.1", Reply: "mx.exemple.fr said: 550 5.1.1 unknown", RemoteMTA: "mx.exemple.fr"}}

	tests := []struct {
		name   string
		bounce *Bounce
		orig   io.Reader
	}{
		{"bounce", fixedBounce(), strings.NewReader(original)},
		{"no-original", fixedBounce(), nil},
		{"utf8", utf8, strings.NewReader("From: José <josé@exemple.fr>\r\nSubject: Olá\r\n\r\nbody\r\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := render(t, tt.bounce, tt.orig)
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (run with -update after checking):\n%s", path, got)
			}
			checkLines(t, got)
		})
	}
}

// checkLines: CRLF only, no line over RFC 5322's 998 limit.
func checkLines(t *testing.T, msg []byte) {
	t.Helper()
	for i, line := range bytes.Split(msg, []byte("\r\n")) {
		if bytes.ContainsAny(line, "\r\n") {
			t.Errorf("line %d has a bare CR or LF: %q", i+1, line)
		}
		if len(line) > 998 {
			t.Errorf("line %d is %d bytes long", i+1, len(line))
		}
	}
}

func TestStructure(t *testing.T) {
	raw := render(t, fixedBounce(), strings.NewReader(original))
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]string{
		"Subject":        "Undelivered Mail Returned to Sender",
		"Auto-Submitted": "auto-replied",
		"To":             "<notifications@example.org>",
		"Message-Id":     "<bounce.4AbC@mail.example.org>",
	} {
		if got := msg.Header.Get(field); got != want {
			t.Errorf("%s = %q, want %q", field, got, want)
		}
	}
	from, err := mail.ParseAddress(msg.Header.Get("From"))
	if err != nil || from.Address != "MAILER-DAEMON@mail.example.org" || from.Name != "Mail Delivery System" {
		t.Errorf("From = %v, %v", from, err)
	}
	if d, err := msg.Header.Date(); err != nil || !d.Equal(fixedBounce().Date) {
		t.Errorf("Date = %v, %v", d, err)
	}

	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("Content-Type %q %v: %v", mediaType, params, err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	var bodies [][]byte
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		mt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		types = append(types, mt)
		bodies = append(bodies, body)
	}
	wantTypes := []string{"text/plain", "message/delivery-status", "text/rfc822-headers"}
	if strings.Join(types, ",") != strings.Join(wantTypes, ",") {
		t.Fatalf("parts %v, want %v", types, wantTypes)
	}

	text := string(bodies[0])
	for _, want := range []string{
		"<alice@example.net>: mx1.example.net said: 550 5.1.1",
		"<bob@example.com>: gave up",
		"connection to mx.example.com refused",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text part lacks %q:\n%s", want, text)
		}
	}

	// The report: a per-message block, then one block per recipient.
	tr := textproto.NewReader(bufio.NewReader(bytes.NewReader(bodies[1])))
	perMsg, err := tr.ReadMIMEHeader()
	if err != nil {
		t.Fatal(err)
	}
	if perMsg.Get("Reporting-MTA") != "dns; mail.example.org" || perMsg.Get("X-Dkimrelay-Queue-Id") != "4AbC" ||
		perMsg.Get("Arrival-Date") != "Tue, 03 Mar 2026 10:00:00 +0000" {
		t.Errorf("per-message fields: %v", perMsg)
	}
	wantRcpts := []map[string]string{
		{
			"Final-Recipient": "rfc822; alice@example.net",
			"Action":          "failed",
			"Status":          "5.1.1",
			"Remote-Mta":      "dns; mx1.example.net",
			"Diagnostic-Code": "smtp; 550 5.1.1 <alice@example.net>: Recipient address rejected: User unknown in virtual mailbox table",
		},
		{
			"Final-Recipient": "rfc822; bob@example.com",
			"Action":          "failed",
			"Status":          "4.4.1",
			"Remote-Mta":      "",
			"Diagnostic-Code": "x-dkimrelay; connection to mx.example.com refused",
		},
	}
	for i, want := range wantRcpts {
		h, err := tr.ReadMIMEHeader()
		if err != nil && err != io.EOF {
			t.Fatalf("recipient block %d: %v", i, err)
		}
		for k, v := range want {
			// ReadMIMEHeader keeps folding whitespace as one space.
			if got := h.Get(k); got != v {
				t.Errorf("recipient %d: %s = %q, want %q", i, k, got, v)
			}
		}
	}

	headers := string(bodies[2])
	if !strings.Contains(headers, "Subject: New follower\r\n") || !strings.HasPrefix(headers, "Received: ") {
		t.Errorf("original headers not returned intact:\n%s", headers)
	}
	if strings.Contains(string(raw), "SECRET BODY") {
		t.Error("the original body leaked into the bounce")
	}
}

func TestHeaderBlockBounded(t *testing.T) {
	tests := []struct {
		name, in string
		max      int
		want     string
	}{
		{"crlf", "A: 1\r\nB: 2\r\n\r\nbody\r\n", 1000, "A: 1\r\nB: 2\r\n"},
		{"bare lf", "A: 1\nB: 2\n\nbody\n", 1000, "A: 1\r\nB: 2\r\n"},
		{"no body", "A: 1\r\nB: 2", 1000, "A: 1\r\nB: 2\r\n"},
		{"cut at line", "A: 1\r\nB: 22222222\r\n\r\n", 12, "A: 1\r\n"},
		{"empty", "", 1000, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := headerBlock(strings.NewReader(tt.in), tt.max)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}

	// Through the public API: a huge header block is cut to the bound.
	b := fixedBounce()
	b.MaxHeaderBytes = 100
	huge := strings.Repeat("X-Filler: "+strings.Repeat("y", 40)+"\r\n", 10000) + "\r\nbody\r\n"
	raw := render(t, b, strings.NewReader(huge))
	if n := strings.Count(string(raw), "X-Filler:"); n != 1 {
		t.Errorf("%d filler headers copied, want 1 (100-byte bound)", n)
	}
}

func TestHeaderInjection(t *testing.T) {
	b := fixedBounce()
	b.Failures[0].Reply = "mx said: 550 bad\r\nBcc: victim@example.com"
	b.Failures[0].Rcpt = "alice@example.net\r\nX-Evil: 1"
	raw := render(t, b, nil)
	if strings.Contains(string(raw), "\r\nBcc:") || strings.Contains(string(raw), "\r\nX-Evil:") {
		t.Errorf("CR/LF in values started a new line:\n%s", raw)
	}
}

func TestDefaults(t *testing.T) {
	b := fixedBounce()
	b.Date, b.MessageID, b.Boundary = time.Time{}, "", ""
	b.Failures = []Failure{{Rcpt: "a@example.net", Reply: "550 no"}, {Rcpt: "b@example.net", Expired: true}}
	raw := render(t, b, nil)
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if id := msg.Header.Get("Message-Id"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@mail.example.org>") {
		t.Errorf("generated Message-ID %q", id)
	}
	if d, err := msg.Header.Date(); err != nil || time.Since(d) > time.Hour {
		t.Errorf("generated Date %v, %v", d, err)
	}
	for _, want := range []string{"Status: 5.0.0", "Status: 4.4.7", "Diagnostic-Code: smtp; 550 no"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("missing %q", want)
		}
	}
	if err := (&Bounce{ReportingMTA: "h", To: "x@y"}).WriteTo(io.Discard, nil); err == nil {
		t.Error("a bounce without failures was written")
	}
}

func TestShouldBounce(t *testing.T) {
	tests := []struct {
		from string
		want bool
	}{
		{"", false},
		{"<>", false},
		{"MAILER-DAEMON@example.org", false},
		{"mailer-daemon@example.org", false},
		{"<Mailer-Daemon@example.org>", false},
		{"MAILER-DAEMON", false},
		{"double-bounce@example.org", false},
		{"notifications@example.org", true},
		{"daemon@example.org", true},
		{"postmaster@example.org", true},
	}
	for _, tt := range tests {
		if got := ShouldBounce(tt.from); got != tt.want {
			t.Errorf("ShouldBounce(%q) = %v, want %v", tt.from, got, tt.want)
		}
	}
}

// TestLongAddressesFolded: a long recipient and a long reply, with and
// without spaces, in ASCII and UTF-8, never make a line of the DSN longer
// than RFC 5322's 998 characters, and every word of them is still there.
func TestLongAddressesFolded(t *testing.T) {
	long := strings.Repeat("a", 400) + "@" + strings.Repeat("sub.", 60) + "example.net"
	cases := []struct{ rcpt, reply string }{
		{long, "mx.example.net said: 550 5.1.1 " + strings.Repeat("word ", 180)},
		{long, "mx.example.net said: 550 " + strings.Repeat("x", 950)},
		{strings.Repeat("é", 450) + "@example.net", strings.Repeat("ü", 480)},
	}
	for i, c := range cases {
		b := fixedBounce()
		b.Failures = []Failure{{Rcpt: c.rcpt, Status: "5.1.1", Reply: c.reply, RemoteMTA: "mx.example.net"}, {Rcpt: c.rcpt, Status: "4.4.1", Reply: c.reply, Expired: true}}
		b.ReportingMTA = strings.Repeat("relay.", 150) + "example.org"
		got := render(t, b, strings.NewReader(original))
		checkLines(t, got)
		unfolded := strings.Join(strings.Fields(strings.ReplaceAll(string(got), "\r\n", "")), "")
		if !strings.Contains(unfolded, strings.Join(strings.Fields(clean(c.rcpt)), "")) {
			t.Errorf("case %d: the recipient is not in the DSN", i)
		}
	}
}
