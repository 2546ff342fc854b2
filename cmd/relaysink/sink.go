package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"time"

	msgauth "github.com/emersion/go-msgauth/dkim"

	"dkimrelay/internal/smtpsink"
)

// Sink is the receiving end of a benchmark: an MX (internal/smtpsink)
// that accepts everything, counts arrivals, and verifies every DKIM
// signature against the published records. It is safe for concurrent use.
type Sink struct {
	records txtRecords
	want    int           // stop counting as done at this many distinct messages; 0: never
	done    chan struct{} // closed when want distinct messages have arrived
	now     func() time.Time
	smtp    *smtpsink.Sink

	mu   sync.Mutex
	sum  Summary
	seen map[string]bool // Message-IDs, to tell at-least-once duplicates apart
}

// Summary is what the sink reports, as JSON for the comparison script.
type Summary struct {
	Arrived      int       `json:"arrived"`     // messages accepted, duplicates included
	Unique       int       `json:"unique"`      // distinct Message-IDs
	Duplicates   int       `json:"duplicates"`  // repeats of a Message-ID already seen
	Verified     int       `json:"verified"`    // every signature of the message verified
	Failed       int       `json:"dkim_failed"` // some signature did not verify
	Unsigned     int       `json:"unsigned"`    // no DKIM-Signature at all
	Signatures   int       `json:"signatures"`  // signatures checked, all messages
	FirstFail    string    `json:"first_failure,omitempty"`
	Bytes        int64     `json:"bytes"`        // message bytes received
	Connections  int       `json:"connections"`  // SMTP sessions opened by the relay
	TLSSessions  int       `json:"tls_sessions"` // of which ended up in TLS (counted at first MAIL)
	Transactions int       `json:"transactions"` // MAIL commands
	First        time.Time `json:"first_arrival"`
	Last         time.Time `json:"last_arrival"`
}

// NewSink returns a sink that verifies against recs and reports done once
// want distinct messages arrived (want 0: never).
func NewSink(recs txtRecords, want int) *Sink {
	return &Sink{records: recs, want: want, done: make(chan struct{}), now: time.Now, seen: map[string]bool{}}
}

// Start serves SMTP on ln as hostname until Close. With cert set it
// offers STARTTLS (RFC 3207), as a real MX does. The sink counts the TCP
// connections it accepts: connection reuse by the relay shows as few of
// them.
func (s *Sink) Start(ln net.Listener, hostname string, cert *tls.Certificate) {
	cfg := smtpsink.Config{
		Hostname:        hostname,
		SMTPUTF8:        true,
		MaxMessageBytes: 64 << 20,
		MaxRecipients:   1000,
		Timeout:         5 * time.Minute,
		Discard:         true,
		// The arrival counts before the 250: the arrival time is when
		// the relay's handover is complete.
		Arrived: func(m smtpsink.Message) { s.arrived(m.Data) },
	}
	if cert != nil {
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
	}
	s.smtp = smtpsink.New(cfg)
	s.smtp.Start(ln)
}

// Close stops serving.
func (s *Sink) Close() error { return s.smtp.Close() }

// Done is closed once the expected number of distinct messages arrived.
func (s *Sink) Done() <-chan struct{} { return s.done }

// Summary returns the figures so far.
func (s *Sink) Summary() Summary {
	s.mu.Lock()
	sum := s.sum
	s.mu.Unlock()
	if s.smtp != nil {
		st := s.smtp.Stats()
		sum.Connections, sum.TLSSessions, sum.Transactions = st.Connections, st.TLSSessions, st.Transactions
	}
	return sum
}

func (s *Sink) arrived(msg []byte) {
	id := messageID(msg)
	verdict, nsigs, reason := s.verify(msg)
	now := s.now()

	s.mu.Lock()
	defer s.mu.Unlock()
	sum := &s.sum
	if sum.Arrived == 0 {
		sum.First = now
	}
	sum.Last = now
	sum.Arrived++
	sum.Bytes += int64(len(msg))
	sum.Signatures += nsigs
	switch verdict {
	case verified:
		sum.Verified++
	case unsigned:
		sum.Unsigned++
	default:
		sum.Failed++
		if sum.FirstFail == "" {
			sum.FirstFail = reason
		}
	}
	if id != "" && s.seen[id] {
		sum.Duplicates++
		return
	}
	if id != "" {
		s.seen[id] = true
	}
	sum.Unique++
	if s.want > 0 && sum.Unique == s.want {
		close(s.done)
	}
}

type verdict int

const (
	verified verdict = iota
	unsigned
	failed
)

// verify checks every DKIM-Signature of msg (RFC 6376 section 6): the
// message counts as verified only if all of them pass, so a relay signing
// with RSA and Ed25519 has both checked.
func (s *Sink) verify(msg []byte) (verdict, int, string) {
	vs, err := msgauth.VerifyWithOptions(bytes.NewReader(msg), &msgauth.VerifyOptions{
		LookupTXT:        s.records.lookup,
		MaxVerifications: 8,
	})
	if err != nil {
		return failed, 0, "verifying: " + err.Error()
	}
	if len(vs) == 0 {
		return unsigned, 0, ""
	}
	for _, v := range vs {
		if v.Err != nil {
			return failed, len(vs), "signature of " + v.Domain + ": " + v.Err.Error()
		}
	}
	return verified, len(vs), ""
}

// messageID returns the Message-ID field of msg's header, or "".
func messageID(msg []byte) string {
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(msg))).ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		return ""
	}
	return strings.TrimSpace(h.Get("Message-Id"))
}
