package testkit

import (
	"net"
	"strings"
	"testing"
)

func TestTOMLTable(t *testing.T) {
	var c TOML
	c.Line("hostname = %q", "relay.example.net")
	c.Table("delivery", []string{"port = 25", `retry_min = "1s"`}, "retry_min = \"1h\"\nworkers = 4\n")
	want := "hostname = \"relay.example.net\"\n[delivery]\nport = 25\nretry_min = \"1h\"\nworkers = 4\n"
	if got := c.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestRawReplies: the raw client reads multi-line and pipelined replies
// exactly, and tells a closed connection from a reply.
func TestRawReplies(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	go func() {
		defer server.Close()
		buf := make([]byte, 4096)
		server.Write([]byte("220 peer ready\r\n"))
		n, _ := server.Read(buf)
		if strings.Count(string(buf[:n]), "\r\n") != 2 {
			return
		}
		server.Write([]byte("250-peer\r\n250-PIPELINING\r\n250 8BITMIME\r\n550 5.1.1 no such user\r\n"))
	}()
	c := NewRaw(t, client)
	if g := c.Reply(); g.Code != 220 || g.Text() != "peer ready" {
		t.Fatalf("greeting %v", g)
	}
	rps := c.Pipeline("EHLO client.test", "RCPT TO:<x@example.net>")
	if rps[0].Code != 250 || len(rps[0].Lines) != 3 || rps[0].String() != "250-peer\n250-PIPELINING\n250 8BITMIME" {
		t.Errorf("EHLO reply %q", rps[0])
	}
	if rps[1].Code != 550 || rps[1].Text() != "5.1.1 no such user" {
		t.Errorf("RCPT reply %v", rps[1])
	}
	if rp := c.Reply(); !rp.Closed() || rp.Code != 0 {
		t.Errorf("after the peer closed: %v", rp)
	}
}
