package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"dkimrelay/dkim"
	"dkimrelay/internal/selfsigned"
	"dkimrelay/internal/testkit"
)

// testKeys are an RSA and an Ed25519 key for example.org and their records
// in zone-file form, as `dkimrelay keys dns` prints them.
func testKeys(t *testing.T) ([]dkim.Key, string) {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, ek, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys := []dkim.Key{
		{Domain: "example.org", Selector: "r1", Signer: rk},
		{Domain: "example.org", Selector: "e1", Signer: ek},
	}
	var zone strings.Builder
	for _, k := range keys {
		v, err := dkim.RecordValue(k.Signer.Public())
		if err != nil {
			t.Fatal(err)
		}
		zone.WriteString(dkim.ZoneRecord(k.Selector, k.Domain, v) + "\n")
	}
	return keys, zone.String()
}

func signed(t *testing.T, keys []dkim.Key, seq int) []byte {
	t.Helper()
	msg := fmt.Sprintf("From: a@example.org\r\nTo: b@example.net\r\nSubject: test %d\r\nMessage-ID: <%d@example.org>\r\nDate: Mon, 2 Jan 2006 15:04:05 +0000\r\n\r\nbody %d\r\n", seq, seq, seq)
	return []byte(testkit.Sign(t, msg, keys...))
}

func send(t *testing.T, addr string, useTLS bool, msgs ...[]byte) {
	t.Helper()
	var c *smtp.Client
	var err error
	if useTLS {
		c, err = smtp.DialStartTLS(addr, &tls.Config{InsecureSkipVerify: true})
	} else {
		c, err = smtp.Dial(addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, m := range msgs {
		if err := c.SendMail("a@example.org", []string{"b@example.net"}, bytes.NewReader(m)); err != nil {
			t.Fatal(err)
		}
	}
	c.Quit()
}

// TestSinkCountsAndVerifies runs the sink on loopback and sends it signed,
// duplicated, tampered and unsigned messages.
func TestSinkCountsAndVerifies(t *testing.T) {
	keys, zone := testKeys(t)
	recs, err := parseRecords(strings.NewReader(zone))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := selfsigned.Certificate("relaysink.test", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	sink := NewSink(recs, 4)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sink.Start(ln, "relaysink.test", &cert)
	defer sink.Close()

	m1, m2, m3 := signed(t, keys, 1), signed(t, keys, 2), signed(t, keys, 3)
	send(t, ln.Addr().String(), true, m1, m2, m1) // m1 twice: a duplicate
	select {
	case <-sink.Done():
		t.Fatal("done after 2 distinct messages, want 4")
	default:
	}
	tampered := bytes.Replace(m3, []byte("body 3"), []byte("body X"), 1)
	unsigned := []byte("From: a@example.org\r\nMessage-ID: <u@example.org>\r\n\r\nhi\r\n")
	send(t, ln.Addr().String(), false, tampered, unsigned)
	select {
	case <-sink.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("not done after 4 distinct messages")
	}
	got := sink.Summary()
	want := Summary{Arrived: 5, Unique: 4, Duplicates: 1, Verified: 3, Failed: 1, Unsigned: 1,
		Signatures: 8, Connections: 2, TLSSessions: 1, Transactions: 5}
	got.First, got.Last, got.Bytes, got.FirstFail = time.Time{}, time.Time{}, 0, ""
	if got != want {
		t.Errorf("summary = %+v\nwant      %+v", got, want)
	}
	if s := sink.Summary(); !strings.Contains(s.FirstFail, "example.org") || s.Last.Before(s.First) {
		t.Errorf("first failure %q, first %v, last %v", s.FirstFail, s.First, s.Last)
	}
}

// TestRunWritesSummary runs the command as the script does: it exits once
// -n messages arrived and leaves the summary in -out.
func TestRunWritesSummary(t *testing.T) {
	keys, zone := testKeys(t)
	dir := t.TempDir()
	recFile := filepath.Join(dir, "records.zone")
	if err := os.WriteFile(recFile, []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	// Find a free port, then let the sink take it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	out := filepath.Join(dir, "summary.json")
	code := make(chan int, 1)
	go func() {
		code <- run([]string{"-listen", addr, "-records", recFile, "-n", "2", "-out", out, "-tls", "-timeout", "20s"})
	}()
	var c net.Conn
	for i := 0; i < 100; i++ {
		if c, err = net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	send(t, addr, true, signed(t, keys, 1), signed(t, keys, 2))
	if rc := <-code; rc != 0 {
		t.Fatalf("exit code %d, want 0", rc)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var sum Summary
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Unique != 2 || sum.Verified != 2 || sum.TLSSessions != 1 || sum.First.IsZero() {
		t.Errorf("summary %s", b)
	}
}

func TestRunUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-records", "x", "-listen", "192.0.2.1:25"},
		{"-bogus"},
	} {
		if rc := run(args); rc != 2 {
			t.Errorf("run(%q) = %d, want 2", args, rc)
		}
	}
}
