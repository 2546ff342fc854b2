package dkim

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestGolden runs each message of testdata/messages through ReadHeader and
// the signer with the committed Ed25519 key, and compares the parsed fields,
// the signed header list and the signature with the .golden file next to
// it. go-msgauth stamps t= with the current time, so t= and the signature
// b= that depends on it are masked there; the signature is verified
// instead. Run with -update to rewrite the golden files.
func TestGolden(t *testing.T) {
	paths, err := filepath.Glob("testdata/messages/*.eml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no test messages: %v", err)
	}
	key := ed25519TestKey(t)
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".eml")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			msg := toCRLF(raw)
			signed, sigs, h := signMessage(t, []Key{key}, msg)

			// The header is written back as read, plus the line ending and
			// empty line a truncated header lacks; the body follows as is.
			out := signed[len(sigs[0]):]
			want := completeHeader(msg)
			if !bytes.Equal(out, want) {
				t.Errorf("the message changed:\n got %q\nwant %q", out, want)
			}

			if v := verify(t, signed, key)[0]; v.Err != nil {
				t.Errorf("the signature does not verify: %v", v.Err)
			}

			got := goldenReport(t, h, sigs[0])
			goldenPath := strings.TrimSuffix(path, ".eml") + ".golden"
			if *update {
				if err := os.WriteFile(goldenPath, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			wantReport, err := os.ReadFile(goldenPath)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(wantReport) {
				t.Errorf("%s differs (run go test -update if the change is intended):\n--- got\n%s--- want\n%s", goldenPath, got, wantReport)
			}
		})
	}
}

// completeHeader returns msg with the CRLF and empty line that end the
// header block added when msg ends inside it.
func completeHeader(msg []byte) []byte {
	if len(msg) == 0 || bytes.HasPrefix(msg, []byte("\r\n")) || bytes.Contains(msg, []byte("\r\n\r\n")) {
		if len(msg) == 0 {
			return []byte("\r\n")
		}
		return msg
	}
	if !bytes.HasSuffix(msg, []byte("\r\n")) {
		msg = append(msg, "\r\n"...)
	}
	return append(msg, "\r\n"...)
}

var (
	timestampTag = regexp.MustCompile(`t=[0-9]+;`)
	signatureTag = regexp.MustCompile(`(?s)b=[A-Za-z0-9+/=\r\n ]*$`)
)

// goldenReport describes what the package made of a message, as text with
// LF line endings.
func goldenReport(t *testing.T, h *Header, sig string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "header: %d fields, %d bytes\n", len(h.fields), h.Len())
	for _, f := range h.fields {
		fmt.Fprintf(&b, "  %q: %q\n", f.name, f.value())
	}
	b.WriteString("values:\n")
	seen := make(map[string]bool)
	for _, f := range h.fields {
		lower := strings.ToLower(f.name)
		if !seen[lower] {
			seen[lower] = true
			fmt.Fprintf(&b, "  Values(%q) = %q\n", lower, h.Values(lower))
		}
	}
	names, err := signedHeaderNames(h)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "signed: %s\n", strings.Join(names, ":"))
	sig = timestampTag.ReplaceAllString(sig, "t=TIMESTAMP;")
	sig = signatureTag.ReplaceAllString(sig, "b=SIGNATURE\r\n")
	b.WriteString("signature:\n")
	b.WriteString(strings.ReplaceAll(sig, "\r\n", "\n"))
	return b.String()
}

// TestGoldenCorpusIsCRLFSafe makes sure the corpus cannot hide bare CRs
// that toCRLF would turn into something else.
func TestGoldenCorpusIsCRLFSafe(t *testing.T) {
	paths, _ := filepath.Glob("testdata/messages/*.eml")
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(bufio.NewReader(f))
		f.Close()
		if bytes.IndexByte(b, '\r') >= 0 {
			t.Errorf("%s contains CR; store test messages with LF line endings", p)
		}
	}
}
