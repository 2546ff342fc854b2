package main

import (
	"fmt"
	"strings"
	"time"
)

// Message builds a Mastodon-like notification: multipart/alternative text
// and HTML, the header fields Mastodon sets (List-Unsubscribe with
// one-click, List-ID, Message-ID on the From domain), padded to about size
// bytes.
func Message(from, to string, seq, conn, size int) []byte {
	domain := from[strings.LastIndexByte(from, '@')+1:]
	boundary := fmt.Sprintf("--==_mimepart_%d_%d", conn, seq)
	var b strings.Builder
	fmt.Fprintf(&b, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "From: Mastodon <%s>\r\n", from)
	fmt.Fprintf(&b, "Reply-To: Mastodon <%s>\r\n", from)
	fmt.Fprintf(&b, "To: %s\r\n", to)
	fmt.Fprintf(&b, "Message-ID: <bench-%d-%d-%d@%s>\r\n", time.Now().UnixNano(), conn, seq, domain)
	b.WriteString("Subject: =?UTF-8?Q?alice_favourited_your_post?=\r\n")
	b.WriteString("Mime-Version: 1.0\r\n")
	fmt.Fprintf(&b, "Content-Type: multipart/alternative; boundary=\"%s\"; charset=UTF-8\r\n", boundary)
	b.WriteString("Content-Transfer-Encoding: 7bit\r\n")
	fmt.Fprintf(&b, "List-ID: <notification.%s>\r\n", domain)
	fmt.Fprintf(&b, "List-Unsubscribe: <https://%s/unsubscribe?token=%d>\r\n", domain, seq)
	b.WriteString("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n")
	b.WriteString("Auto-Submitted: auto-generated\r\n")
	b.WriteString("X-Auto-Response-Suppress: All\r\n")
	b.WriteString("\r\n")
	body := size - b.Len()
	half := body / 2
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", boundary)
	// Each notification names its own post, as Mastodon's do: identical
	// content would be taken for the application's retry of one mail
	// (submission.duplicate_window) and queued once.
	post := fmt.Sprintf("%d-%d-%d", time.Now().UnixNano(), conn, seq)
	writeFill(&b, "alice favourited your post "+post+": Hello from the benchmark. ", half)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", boundary)
	writeFill(&b, "<p>alice favourited your post: <a href=3D\"https://example.org/"+post+"\">Hello</a></p> ", body-half)
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return []byte(b.String())
}

// writeFill writes about n bytes of text in lines of 72 characters, the
// line breaks counted in n.
func writeFill(b *strings.Builder, text string, n int) {
	line := 0
	for i := 0; i < n; i++ {
		b.WriteByte(text[i%len(text)])
		line++
		if line == 72 {
			b.WriteString("\r\n")
			i += 2
			line = 0
		}
	}
	b.WriteString("\r\n")
}
