package integration

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"slices"
	"strings"
	"testing"

	"dkimrelay/internal/smtpsink"
)

// waitDSN waits for a delivery status notification to sender: a message
// from the null reverse path (RFC 5321 section 4.5.5, so that a bounce never
// bounces).
func waitDSN(t *testing.T, sinks *sinkPair, sender string) smtpsink.Message {
	t.Helper()
	isDSN := func(m smtpsink.Message) bool { return m.From == "" && slices.Contains(m.To, sender) }
	msgs := sinks.waitFor(t, deliveryTimeout, "a DSN to "+sender, func(ms []smtpsink.Message) bool {
		return slices.ContainsFunc(ms, isDSN)
	})
	i := slices.IndexFunc(msgs, isDSN)
	return msgs[i]
}

// checkDSN checks a DSN's structure: multipart/report with
// report-type=delivery-status (RFC 6522 section 3), a message/delivery-status
// part (RFC 3464 section 2.1) with a per-recipient block for rcpt saying
// Action: failed and a Status starting with statusPrefix.
func checkDSN(t *testing.T, dsn smtpsink.Message, rcpt, statusPrefix string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(dsn.Data))
	if err != nil {
		t.Fatalf("DSN does not parse: %v", err)
	}
	if msg.Header.Get("From") == "" {
		t.Errorf("DSN has no From field")
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/report" || !strings.EqualFold(params["report-type"], "delivery-status") {
		t.Fatalf("DSN Content-Type %q, want multipart/report; report-type=delivery-status", msg.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var status []byte
	var types []string
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("DSN MIME structure: %v", err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		types = append(types, ct)
		body, err := io.ReadAll(p)
		if err != nil {
			t.Fatalf("DSN part %s: %v", ct, err)
		}
		if ct == "message/delivery-status" {
			status = body
		}
	}
	if len(types) < 2 || types[0] != "text/plain" {
		t.Errorf("DSN parts %v, want a human-readable text/plain first, then message/delivery-status", types)
	}
	if status == nil {
		t.Fatalf("DSN has no message/delivery-status part (parts: %v)", types)
	}

	// The part is a per-message block then per-recipient blocks, each
	// formatted like a header (RFC 3464 section 2.1).
	tr := textproto.NewReader(bufio.NewReader(bytes.NewReader(status)))
	perMessage, err := tr.ReadMIMEHeader()
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("delivery-status per-message fields: %v", err)
	}
	if perMessage.Get("Reporting-MTA") == "" {
		t.Errorf("delivery-status lacks Reporting-MTA (RFC 3464 section 2.2.2)")
	}
	found := false
	for {
		block, err := tr.ReadMIMEHeader()
		if len(block) > 0 {
			fr := strings.ToLower(strings.Join(strings.Fields(block.Get("Final-Recipient")), ""))
			if fr == "rfc822;"+strings.ToLower(rcpt) {
				found = true
				if a := block.Get("Action"); !strings.EqualFold(a, "failed") {
					t.Errorf("DSN Action %q for %s, want failed", a, rcpt)
				}
				if s := block.Get("Status"); !strings.HasPrefix(s, statusPrefix) {
					t.Errorf("DSN Status %q for %s, want %s...", s, rcpt, statusPrefix)
				}
			}
		}
		if err != nil {
			break
		}
	}
	if !found {
		t.Errorf("DSN names no Final-Recipient rfc822;%s:\n%s", rcpt, status)
	}
}
