package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

// Signature algorithms (RFC 6376 section 3.3, RFC 8463 section 3).
const (
	algRSA     = "rsa-sha256"
	algEd25519 = "ed25519-sha256"
)

// dkimTags is the tag list of one DKIM-Signature field.
type dkimTags map[string]string

// dkimSignatures parses the DKIM-Signature fields of a message's header.
func dkimSignatures(t testing.TB, data []byte) []dkimTags {
	t.Helper()
	hdr, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(data))).ReadMIMEHeader()
	if err != nil {
		t.Fatalf("reading the delivered header: %v", err)
	}
	var out []dkimTags
	for _, v := range hdr.Values("Dkim-Signature") {
		tags := dkimTags{}
		for _, part := range strings.Split(v, ";") {
			k, val, ok := strings.Cut(part, "=")
			if !ok {
				continue
			}
			// Folding whitespace may sit anywhere (RFC 6376 section 3.2).
			tags[strings.TrimSpace(k)] = strings.Join(strings.Fields(val), "")
		}
		out = append(out, tags)
	}
	return out
}

// verifyDKIM checks a delivered message the way receivers do: every
// DKIM-Signature must verify for d=example.org with go-msgauth and with
// dkimpy, both reading the keys from the test DNS, and the signatures'
// algorithms must be exactly wantAlgs (in any order).
func verifyDKIM(t *testing.T, w *world, data []byte, wantAlgs ...string) []dkimTags {
	t.Helper()
	sigs := dkimSignatures(t, data)
	var algs []string
	for _, s := range sigs {
		algs = append(algs, s["a"])
		if s["d"] != "example.org" {
			t.Errorf("DKIM-Signature d=%q, want example.org", s["d"])
		}
	}
	slices.Sort(algs)
	want := slices.Clone(wantAlgs)
	slices.Sort(want)
	if !slices.Equal(algs, want) {
		t.Fatalf("DKIM-Signature algorithms %v, want %v", algs, want)
	}

	verifications, err := dkim.VerifyWithOptions(bytes.NewReader(data), &dkim.VerifyOptions{LookupTXT: w.lookupTXT})
	if err != nil {
		t.Fatalf("go-msgauth dkim.Verify: %v", err)
	}
	if len(verifications) != len(sigs) {
		t.Errorf("go-msgauth checked %d signature(s), the message has %d", len(verifications), len(sigs))
	}
	for _, v := range verifications {
		if v.Err != nil {
			t.Errorf("go-msgauth: signature d=%s fails: %v", v.Domain, v.Err)
		}
	}

	if t.Failed() {
		t.Logf("the message as delivered (start):\n%s", excerpt(data, 1500))
	}

	t.Run("dkimpy", func(t *testing.T) {
		requireTool(t, pythonPath, "python3 with dkimpy and PyNaCl", "python3-dkim python3-nacl")
		verifyWithDkimpy(t, w, data, sigs)
	})
	return sigs
}

type dkimpyResult struct {
	D, S, A string
	OK      bool
	Error   string
}

func verifyWithDkimpy(t *testing.T, w *world, data []byte, sigs []dkimTags) {
	records := map[string]string{}
	for _, s := range sigs {
		name := s["s"] + "._domainkey." + s["d"]
		txt, err := w.lookupTXT(name)
		if err != nil || len(txt) != 1 {
			t.Fatalf("DNS TXT %s: %q, %v (want one record)", name, txt, err)
		}
		records[name] = txt[0]
	}
	recFile := filepath.Join(t.TempDir(), "records.json")
	b, _ := json.Marshal(records)
	if err := os.WriteFile(recFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs("testdata/dkimverify.py")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(pythonPath, script, recFile)
	cmd.Stdin = bytes.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dkimpy: %v\n%s", err, stderr.String())
	}
	var results []dkimpyResult
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatalf("dkimpy output %q: %v", out, err)
	}
	if len(results) != len(sigs) {
		t.Errorf("dkimpy checked %d signature(s), the message has %d", len(results), len(sigs))
	}
	for _, r := range results {
		if !r.OK {
			t.Errorf("dkimpy: signature d=%s s=%s a=%s fails: %s", r.D, r.S, r.A, r.Error)
		}
	}
}

// signedHeaders is the h= list of a signature, lower-cased.
func signedHeaders(sig dkimTags) []string {
	var out []string
	for _, h := range strings.Split(sig["h"], ":") {
		out = append(out, strings.ToLower(strings.TrimSpace(h)))
	}
	return out
}

// excerpt quotes the start of a message for a failure report.
func excerpt(data []byte, n int) string {
	if len(data) > n {
		return strconv.Quote(string(data[:n])) + "..."
	}
	return strconv.Quote(string(data))
}
