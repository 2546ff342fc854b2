package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
)

// corpusMessage is one file of testdata/corpus (see its README.md) as it
// goes on the wire.
type corpusMessage struct {
	name string // the file name without .eml
	rcpt string // the envelope recipient, how the sinks tell them apart
	// wire is the message content as SMTP carries it (RFC 5321 section
	// 4.1.1.4): CRLF line ends, ending in CRLF, not yet dot-stuffed.
	wire []byte
}

// loadCorpus reads testdata/corpus/*.eml. The files keep LF line ends in
// the repository; every LF becomes CRLF here. A file whose last line has no
// line end gets one, because SMTP cannot carry a message without it: the
// CRLF before the terminating "." ends the last line (RFC 5321 section
// 4.1.1.4), so a client always sends one, and that is what the relay signs
// and the receiver verifies. RFC 6376 section 3.4.4 agrees for the relaxed
// body: a missing final CRLF is added before hashing.
func loadCorpus(t *testing.T) []corpusMessage {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("testdata/corpus holds no .eml files (%v)", err)
	}
	var out []corpusMessage
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte("\r")) {
			t.Fatalf("%s has a CR: corpus files keep LF line ends (see README.md)", f)
		}
		wire := bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
		if !bytes.HasSuffix(wire, []byte("\r\n")) {
			wire = append(wire, "\r\n"...)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".eml")
		out = append(out, corpusMessage{name: name, rcpt: "corpus-" + name + "@example.net", wire: wire})
	}
	return out
}

// dotStuff prepares message content for DATA (RFC 5321 section 4.5.2): a
// "." starts every line that began with one, and ".\r\n" ends the data.
func dotStuff(wire []byte) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(string(wire), "\r\n") {
		if strings.HasPrefix(line, ".") {
			b.WriteByte('.')
		}
		b.WriteString(line)
	}
	b.WriteString(".\r\n")
	return b.String()
}

// mailParams are the MAIL FROM parameters a message needs: BODY=8BITMIME
// for 8-bit content (RFC 6152), and SMTPUTF8 too when the header holds
// UTF-8 (RFC 6531, RFC 6532).
func mailParams(wire []byte) string {
	eightBit := func(b []byte) bool { return slices.ContainsFunc(b, func(c byte) bool { return c >= 0x80 }) }
	header, _, _ := bytes.Cut(wire, []byte("\r\n\r\n"))
	switch {
	case eightBit(header):
		return " BODY=8BITMIME SMTPUTF8"
	case eightBit(wire):
		return " BODY=8BITMIME"
	}
	return ""
}

// TestCanonicalizationCorpus sends every corpus message through a relay
// that signs with an RSA and an Ed25519 key, byte for byte over one
// STARTTLS session, and checks that each arrives unchanged behind its two
// signatures and that all three verifiers accept both signatures (and reject
// the tampered copies).
func TestCanonicalizationCorpus(t *testing.T) {
	t.Parallel()
	w, sinks, r := clientTestbed(t)
	corpus := loadCorpus(t)

	c := testkit.DialRaw(t, r.cfg.Listen, false)
	c.HelloTLS("client.example.org")
	c.Login(userFull, r.password(userFull))
	for _, m := range corpus {
		c.Expect("MAIL FROM:<notifications@example.org>"+mailParams(m.wire), 250)
		c.Expect("RCPT TO:<"+m.rcpt+">", 250)
		if rp := c.Data(dotStuff(m.wire)); rp.Code != 250 || queuedAs.FindStringSubmatch(rp.Text()) == nil {
			t.Fatalf("%s: end of DATA got %v, want 250 ... queued as QID", m.name, rp)
		}
	}
	c.Expect("QUIT", 221)

	byRcpt := func(ms []smtpsink.Message, rcpt string) (smtpsink.Message, bool) {
		for _, m := range ms {
			if slices.Equal(m.To, []string{rcpt}) {
				return m, true
			}
		}
		return smtpsink.Message{}, false
	}
	msgs := sinks.waitFor(t, deliveryTimeout, fmt.Sprintf("the %d corpus messages", len(corpus)), func(ms []smtpsink.Message) bool {
		for _, m := range corpus {
			if _, ok := byRcpt(ms, m.rcpt); !ok {
				return false
			}
		}
		return true
	})

	var cases []verifyCase
	for _, m := range corpus {
		got, _ := byRcpt(msgs, m.rcpt)
		checkOnlyPrepended(t, m, got.Data)
		cases = append(cases, verifyCase{name: "corpus/" + m.name + ".eml", data: got.Data})
	}
	if n, want := verifyBatch(t, w, withVariants(cases), algRSA, algEd25519), 2*4*len(corpus); n != want {
		t.Errorf("the verifiers each evaluated %d signatures, want %d (2 per message, 4 copies of each)", n, want)
	}
}

// checkOnlyPrepended checks the relay delivered the message content
// unchanged behind header fields of its own: DKIM signatures (and trace
// fields, which it may add).
func checkOnlyPrepended(t *testing.T, m corpusMessage, delivered []byte) {
	t.Helper()
	wire := m.wire
	if !bytes.Contains(wire, []byte("\r\n\r\n")) && bytes.HasSuffix(delivered, append(bytes.Clone(wire), "\r\n"...)) {
		// A message of only a header may omit the empty line before the
		// (empty) body (RFC 5322 section 3.5: "[CRLF body]"). The relay
		// adds it; the body stays empty, and so does its hash.
		wire = append(bytes.Clone(wire), "\r\n"...)
	}
	if !bytes.HasSuffix(delivered, wire) {
		t.Errorf("corpus/%s.eml: delivered message does not end with the %d bytes sent; it is %s",
			m.name, len(m.wire), excerpt(delivered, 2000))
		return
	}
	prefix := delivered[:len(delivered)-len(wire)]
	for start := 0; start < len(prefix); {
		end := fieldEnd(prefix, start)
		name, _, _ := strings.Cut(string(prefix[start:end]), ":")
		switch strings.ToLower(name) {
		case "dkim-signature", "received":
		default:
			t.Errorf("corpus/%s.eml: the relay added a %q field; want only DKIM-Signature (and Received)", m.name, name)
		}
		start = end
	}
}
