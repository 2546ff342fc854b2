package verify

import (
	"context"
	"fmt"
	"net"

	"dkimrelay/authcheck"
	"dkimrelay/resolver"
)

// Status is the outcome of one check.
type Status string

// Outcomes of a check.
const (
	StatusPass Status = "pass"
	StatusFail Status = "fail"
	// StatusNone: nothing to check against (no SPF or DMARC record); not
	// a failure by itself.
	StatusNone Status = "none"
	// StatusSkipped: the check could not run (no connecting address, no
	// DNS); the explanation says what it needs.
	StatusSkipped Status = "skipped"
)

// Verifier checks received messages. The zero value is not usable: set
// Resolver, or KeyLookup alone to check DKIM without DNS.
type Verifier struct {
	// Resolver answers the SPF and DMARC questions, and the DKIM key
	// questions when KeyLookup is nil. Nil: SPF and DMARC are skipped.
	Resolver *resolver.Resolver
	// KeyLookup, when set, answers the DKIM key questions instead of
	// Resolver (the relay's own key store, for a message no DNS
	// publishes keys for yet).
	KeyLookup authcheck.TXTLookup
	// OwnKeys, when set, answers with the records of the relay's own
	// keys (StoreLookup): comparing them with the published ones tells a
	// changed header from a key mismatch for Ed25519 signatures too.
	OwnKeys authcheck.TXTLookup
	// Hostname is the sending relay's HELO name, which SPF's %{h} macro
	// expands to; may be empty.
	Hostname string
}

// Envelope is what the receiving server knew besides the message. Zero
// fields are taken from the message's trace fields.
type Envelope struct {
	// IP is the address the message came from.
	IP net.IP
	// MailFrom is the envelope sender; MailFromSet distinguishes the null
	// sender "" from "not given".
	MailFrom    string
	MailFromSet bool
}

// Report is what Check found.
type Report struct {
	From       string      `json:"from"`
	FromDomain string      `json:"from_domain"`
	Subject    string      `json:"subject,omitempty"`
	MessageID  string      `json:"message_id,omitempty"`
	DKIM       []Signature `json:"dkim"`
	// DKIMNote explains an empty DKIM list.
	DKIMNote string `json:"dkim_note,omitempty"`
	SPF      SPF    `json:"spf"`
	DMARC    DMARC  `json:"dmarc"`
}

// Failed reports whether any check failed: a signature that does not
// verify, no signature at all, SPF or DMARC failing.
func (r *Report) Failed() bool {
	if len(r.DKIM) == 0 || r.SPF.Status == StatusFail || r.DMARC.Status == StatusFail {
		return true
	}
	for _, s := range r.DKIM {
		if s.Kind != Pass {
			return true
		}
	}
	return false
}

// Check verifies data, a whole message as received (LF or CRLF line
// endings). The error is for a message that cannot be read at all; every
// failed check is in the report.
func (v *Verifier) Check(ctx context.Context, data []byte, env Envelope) (*Report, error) {
	m := parseMessage(toCRLF(data))
	if len(m.fields) == 0 {
		return nil, fmt.Errorf("the input has no header fields: give the whole message as received (in most mail clients \"show original\" or \"view source\")")
	}
	r := &Report{From: m.first("From"), Subject: m.first("Subject"), MessageID: m.first("Message-ID")}
	r.FromDomain = addressDomain(r.From)
	var err error
	if r.DKIM, err = v.checkDKIM(ctx, m); err != nil {
		return nil, err
	}
	if len(r.DKIM) == 0 {
		r.DKIMNote = "the message carries no DKIM-Signature field: it was not signed, or a gateway removed the signature; mail that went through the relay is always signed"
	}
	if !env.MailFromSet {
		env.MailFrom, env.MailFromSet = m.returnPath()
	}
	if env.IP == nil {
		env.IP = m.connectingIP()
	}
	r.SPF = v.checkSPF(ctx, env)
	r.DMARC = v.checkDMARC(ctx, r)
	return r, nil
}

func (v *Verifier) keyLookup() authcheck.TXTLookup {
	if v.KeyLookup != nil {
		return v.KeyLookup
	}
	if v.Resolver != nil {
		return v.Resolver.LookupTXT
	}
	return func(_ context.Context, name string) ([]string, error) {
		return nil, &net.DNSError{Err: "no DNS to ask", Name: name, IsTemporary: true}
	}
}
