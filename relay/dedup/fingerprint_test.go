package dedup

import (
	"bufio"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"dkimrelay/dkim"
)

// alternative renders a multipart/alternative message the way the mail
// gem does, with the boundary and Message-ID it is given.
func alternative(boundary, msgID, subject, text, html string) string {
	return "From: Mastodon <notifications@example.org>\r\n" +
		"To: alice@example.net\r\n" +
		"Message-ID: <" + msgID + "@example.org>\r\n" +
		"Subject: " + subject + "\r\n" +
		"Mime-Version: 1.0\r\n" +
		"Content-Type: multipart/alternative;\r\n boundary=\"" + boundary + "\";\r\n charset=UTF-8\r\n" +
		"Content-Transfer-Encoding: 7bit\r\n" +
		"\r\n" +
		"--" + boundary + "\r\n" +
		"Content-Type: text/plain; charset=UTF-8\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n" +
		"\r\n" + text + "\r\n" +
		"--" + boundary + "\r\n" +
		"Content-Type: text/html; charset=UTF-8\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"\r\n" + html + "\r\n" +
		"--" + boundary + "--\r\n"
}

var mention = Identity{User: "mastodon", From: "notifications@example.org", Rcpts: []string{"alice@example.net"}}

// keyOf fingerprints msg, written in chunks of chunk bytes.
func keyOf(t *testing.T, id Identity, msg string, chunk int) Key {
	t.Helper()
	br := bufio.NewReader(strings.NewReader(msg))
	h, err := dkim.ReadHeader(br, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFingerprint(id, h)
	if _, err := io.CopyBuffer(struct{ io.Writer }{f}, iotest.OneByteReader(br), make([]byte, chunk)); err != nil {
		t.Fatal(err)
	}
	return f.Sum()
}

func TestFingerprint(t *testing.T) {
	const (
		qpText  = "Zo=C3=AB hat Sie erw=C3=A4hnt"
		b64HTML = "PHA+Wm/DqyBoYXQgU2llIGVyd8OkaG50PC9wPg=="
	)
	first := alternative("==_mimepart_6571a1b2c3_1a2b", "a1", "Mention", qpText, b64HTML)
	tests := []struct {
		name string
		id   Identity
		msg  string
		same bool
	}{
		{"rendered again: new boundary and Message-ID", mention,
			alternative("==_mimepart_99ffee_7c7c", "b2", "Mention", qpText, b64HTML), true},
		{"same content, base64 wrapped differently", mention,
			alternative("x", "c3", "Mention", qpText, "PHA+Wm/DqyBoYXQgU2llIGVy\r\nd8OkaG50PC9wPg=="), true},
		{"same content, soft line break in quoted-printable", mention,
			alternative("y", "d4", "Mention", "Zo=C3=AB hat Sie =\r\nerw=C3=A4hnt", b64HTML), true},
		{"recipients in another order and case", Identity{User: "mastodon", From: "notifications@example.org", Rcpts: []string{"Alice@Example.NET"}},
			alternative("z", "e5", "Mention", qpText, b64HTML), true},
		{"another text", mention,
			alternative("==_mimepart_99ffee_7c7c", "b2", "Mention", "Zo=C3=AB hat Sie zitiert", b64HTML), false},
		{"another subject", mention,
			alternative("==_mimepart_99ffee_7c7c", "b2", "Favourite", qpText, b64HTML), false},
		{"another recipient", Identity{User: "mastodon", From: "notifications@example.org", Rcpts: []string{"bob@example.net"}},
			alternative("==_mimepart_99ffee_7c7c", "b2", "Mention", qpText, b64HTML), false},
		{"another login", Identity{User: "bulk", From: "notifications@example.org", Rcpts: []string{"alice@example.net"}},
			alternative("==_mimepart_99ffee_7c7c", "b2", "Mention", qpText, b64HTML), false},
		{"another sender", Identity{User: "mastodon", From: "admin@example.org", Rcpts: []string{"alice@example.net"}},
			alternative("==_mimepart_99ffee_7c7c", "b2", "Mention", qpText, b64HTML), false},
	}
	want := keyOf(t, mention, first, 4096)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, chunk := range []int{1, 7, 4096} {
				if got := keyOf(t, tt.id, tt.msg, chunk); (got == want) != tt.same {
					t.Errorf("chunks of %d: same key = %v, want %v", chunk, got == want, tt.same)
				}
			}
		})
	}
}

func TestFingerprintSinglePartAndBroken(t *testing.T) {
	plain := "From: a@example.org\r\nSubject: Hi\r\nMessage-ID: <1@example.org>\r\n\r\nHello\r\n"
	plain2 := "From: a@example.org\r\nSubject: Hi\r\nMessage-ID: <2@example.org>\r\nDate: Thu, 3 Dec 2026 10:00:00 +0000\r\n\r\nHello\r\n"
	plain3 := "From: a@example.org\r\nSubject: Hi\r\n\r\nHello!\r\n"
	if keyOf(t, mention, plain, 16) != keyOf(t, mention, plain2, 3) {
		t.Error("a plain message with a new Message-ID and Date has a new key")
	}
	if keyOf(t, mention, plain, 16) == keyOf(t, mention, plain3, 16) {
		t.Error("plain messages with different bodies have the same key")
	}
	// A multipart body without its closing boundary does not parse: it is
	// hashed raw, so only the very same bytes match.
	broken := "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\none\r\n"
	broken2 := "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\ntwo\r\n"
	if keyOf(t, mention, broken, 5) != keyOf(t, mention, broken, 64) {
		t.Error("the same broken multipart gives two keys")
	}
	if keyOf(t, mention, broken, 5) == keyOf(t, mention, broken2, 5) {
		t.Error("two different broken multiparts give one key")
	}
}

// TestFingerprintClose checks that a fingerprint abandoned mid-body frees
// its reader: Close returns.
func TestFingerprintClose(t *testing.T) {
	h, err := dkim.ReadHeader(bufio.NewReader(strings.NewReader("Content-Type: multipart/mixed; boundary=b\r\n\r\n")), 0)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFingerprint(mention, h)
	f.Write([]byte("--b\r\nContent-Type: text/plain\r\n\r\nhalf a"))
	f.Close()
}
