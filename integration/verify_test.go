package integration

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
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
	sigs, err := parseDKIMSignatures(data)
	if err != nil {
		t.Fatalf("reading the delivered header: %v", err)
	}
	return sigs
}

// dkimSignaturesOf is dkimSignatures for a message known to parse.
func dkimSignaturesOf(data []byte) []dkimTags {
	sigs, _ := parseDKIMSignatures(data)
	return sigs
}

func parseDKIMSignatures(data []byte) ([]dkimTags, error) {
	hdr, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(data))).ReadMIMEHeader()
	if err != nil && !(errors.Is(err, io.EOF) && len(hdr) > 0) {
		return nil, err
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
	return out, nil
}

// verifyDKIM checks a delivered message the way receivers do: its
// signatures' algorithms must be exactly wantAlgs (in any order), all for
// d=example.org, and each must verify in go-msgauth, dkimpy and Mail::DKIM,
// all reading the keys from the test DNS (see verifyBatch).
func verifyDKIM(t *testing.T, w *world, data []byte, wantAlgs ...string) []dkimTags {
	t.Helper()
	verifyBatch(t, w, []verifyCase{{name: "the delivered message", data: data}}, wantAlgs...)
	return dkimSignatures(t, data)
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
