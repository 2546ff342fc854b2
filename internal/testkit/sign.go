package testkit

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"

	"dkimrelay/dkim"
)

// Sign signs msg with keys as the relay does, the signatures before the
// header, and returns the message as it is sent.
func Sign(t testing.TB, msg string, keys ...dkim.Key) string {
	t.Helper()
	br := bufio.NewReader(strings.NewReader(msg))
	h, err := dkim.ReadHeader(br, 0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := dkim.NewSigner(keys, h)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := h.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.MultiWriter(&out, s), br); err != nil {
		t.Fatal(err)
	}
	sigs, err := s.Sign()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(sigs, "") + out.String()
}
