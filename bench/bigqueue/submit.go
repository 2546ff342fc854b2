package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Addresses of the bench's message, as bench/compare.sh's relaybench runs
// use them.
const (
	sender    = "notifications@" + domain
	recipient = "bench@example.net"
)

// message builds a Mastodon-like notification of about size bytes, like
// cmd/relaybench's Message: multipart/alternative text and HTML with the
// header fields Mastodon sets.
func message(size int, now time.Time) []byte {
	const boundary = "--==_mimepart_bigqueue"
	var b strings.Builder
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "From: Mastodon <%s>\r\n", sender)
	fmt.Fprintf(&b, "To: %s\r\n", recipient)
	fmt.Fprintf(&b, "Message-ID: <bigqueue-%d@%s>\r\n", now.UnixNano(), domain)
	b.WriteString("Subject: =?UTF-8?Q?alice_favourited_your_post?=\r\n")
	b.WriteString("Mime-Version: 1.0\r\n")
	fmt.Fprintf(&b, "Content-Type: multipart/alternative; boundary=\"%s\"; charset=UTF-8\r\n", boundary)
	fmt.Fprintf(&b, "List-ID: <notification.%s>\r\n", domain)
	b.WriteString("Auto-Submitted: auto-generated\r\n\r\n")
	body := max(size-b.Len(), 200)
	for i, part := range []struct{ typ, text string }{
		// Each notification names its own post, as Mastodon's do:
		// identical content would be taken for the application's retry
		// of one mail (submission.duplicate_window) and queued once.
		{"text/plain", fmt.Sprintf("alice favourited your post %d: Hello from the benchmark. ", now.UnixNano())},
		{"text/html", fmt.Sprintf("<p>alice favourited your post: <a href=3D\"https://example.org/%d\">Hello</a></p> ", now.UnixNano())},
	} {
		fmt.Fprintf(&b, "--%s\r\nContent-Type: %s; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", boundary, part.typ)
		fill(&b, part.text, body/2+i*(body%2))
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return []byte(b.String())
}

// fill writes about n bytes of text in lines of at most 72 characters.
func fill(b *strings.Builder, text string, n int) {
	for n > 0 {
		line := min(72, n)
		for i := range line {
			b.WriteByte(text[i%len(text)])
		}
		b.WriteString("\r\n")
		n -= line + 2
	}
}

// submit sends msg to the relay over STARTTLS and AUTH PLAIN (RFC 3207,
// RFC 4954), as an application does, and returns the queue ID from the
// relay's "250 2.0.0 OK: queued as QID".
func submit(addr, user, password string, msg []byte) (string, error) {
	c, err := smtp.DialStartTLS(addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	if err != nil {
		return "", fmt.Errorf("connecting to the relay: %w", err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", user, password)); err != nil {
		return "", fmt.Errorf("AUTH: %w", err)
	}
	if err := c.Mail(sender, nil); err != nil {
		return "", fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := c.Rcpt(recipient, nil); err != nil {
		return "", fmt.Errorf("RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return "", fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		w.Close()
		return "", fmt.Errorf("DATA: %w", err)
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return "", fmt.Errorf("end of DATA: %w", err)
	}
	c.Quit()
	_, qid, ok := strings.Cut(resp.StatusText, "queued as ")
	if !ok {
		return "", fmt.Errorf("the relay's 250 reply %q names no queue ID", resp.StatusText)
	}
	return strings.TrimSpace(qid), nil
}

// waitGreeting connects to addr until a connection gets the server's
// greeting (RFC 5321 section 4.2: "220 ..."), and returns when that line
// arrived. A refused connection is tried again at once: before the relay
// listens, the kernel refuses without delay. p's exit ends the wait.
func waitGreeting(ctx context.Context, addr string, p *proc, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		if p.exited() {
			return time.Time{}, fmt.Errorf("%s exited before greeting: %v", p.name, p.err)
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("no 220 greeting on %s within %s", addr, timeout)
		}
		if err := ctx.Err(); err != nil {
			return time.Time{}, err
		}
		at, err := greeting(addr)
		if err == nil {
			return at, nil
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// greeting connects once and reads the greeting line.
func greeting(addr string) (time.Time, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return time.Time{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	at := time.Now()
	if err != nil {
		return time.Time{}, err
	}
	if !strings.HasPrefix(line, "220") {
		return time.Time{}, fmt.Errorf("greeting %q is not 220", strings.TrimSpace(line))
	}
	fmt.Fprint(c, "QUIT\r\n")
	return at, nil
}
