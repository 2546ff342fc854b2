package dkim

import (
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// TestBlankLinesBoundedMemory signs a 24 MiB body of nothing but empty
// lines, which relaxed canonicalization must hold back until it knows
// whether text follows, then once more with a line of text after them. The
// bytes allocated while writing the body (runtime.MemStats.TotalAlloc,
// which counts every allocation and does not depend on when the collector
// runs) must stay far below the body's size: the held-back line breaks are
// counted, not buffered.
func TestBlankLinesBoundedMemory(t *testing.T) {
	const (
		bodySize = 24 << 20
		maxAlloc = 1 << 20
	)
	for _, tail := range []string{"", "text after the blank lines\r\n"} {
		h := readTestHeader(t, testMessage)
		s, err := NewSigner([]Key{ed25519TestKey(t)}, h)
		if err != nil {
			t.Fatal(err)
		}
		chunk := []byte(strings.Repeat("\r\n", 16<<10))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for n := 0; n < bodySize; n += len(chunk) {
			if _, err := s.Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := io.WriteString(s, tail); err != nil {
			t.Fatal(err)
		}
		sigs, err := s.Sign()
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		allocated := after.TotalAlloc - before.TotalAlloc
		t.Logf("tail %q: %d KB allocated signing %d MB of empty lines", tail, allocated>>10, bodySize>>20)
		if allocated > maxAlloc {
			t.Errorf("tail %q: signing %d MB of empty lines allocated %d MB; the line breaks are being buffered", tail, bodySize>>20, allocated>>20)
		}
		// The same body hash as go-msgauth's, which buffers them.
		msg := testMessage[:strings.Index(testMessage, "\r\n\r\n")+4] + strings.Repeat("\r\n", bodySize/2) + tail
		if want := msgauthBodyHash(t, msg, s.names); sigTags(t, sigs[0])["bh"] != want {
			t.Errorf("tail %q: bh=%s, go-msgauth bh=%s", tail, sigTags(t, sigs[0])["bh"], want)
		}
	}
}

// TestSameAsGoMsgauthLineBreakRuns is TestSameAsGoMsgauth's comparison on
// bodies built of long runs of line breaks, bare CRs among them and
// between them, text or not after them, so that counted runs, runs longer
// than a hash chunk and the bare CRs that break a run all meet text, white
// space and the end of the body. The signature fields must be identical
// but for t= (and b= when the second changed between the two).
func TestSameAsGoMsgauthLineBreakRuns(t *testing.T) {
	k := ed25519TestKey(t)
	rng := rand.New(rand.NewPCG(18, 5))
	atoms := []string{
		"text", " ", "\t", "\r", "\n", "\r\n", "\r\r", "\r \r\n", "\r\t",
		strings.Repeat("\r\n", 3), strings.Repeat("\r\n", 2047), strings.Repeat("\r\n", 2048),
		strings.Repeat("\r\n", 5000), strings.Repeat("\n", 3000), strings.Repeat("\r\n\r", 700),
	}
	for n := range 200 {
		var body strings.Builder
		for range rng.IntN(12) {
			body.WriteString(atoms[rng.IntN(len(atoms))])
		}
		msg := "From: a@example.org\r\nTo: b@example.net\r\nSubject: runs\r\n\r\n" + body.String()
		ours, names := signInPieces(t, k, msg, rng, 9000)
		theirs := msgauthSign(t, k, msg, names)
		if !sameSignature(ours, theirs) {
			t.Fatalf("message %d (%d bytes):\n ours %q\ntheirs %q", n, len(msg), ours, theirs)
		}
	}
}

// msgauthBodyHash is the bh= go-msgauth computes for msg.
func msgauthBodyHash(t *testing.T, msg string, names []string) string {
	t.Helper()
	return sigTags(t, msgauthSign(t, ed25519TestKey(t), msg, names))["bh"]
}
