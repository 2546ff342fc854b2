package dkim

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
	"time"
)

// dateLayout is the RFC 5322 section 3.3 date-time, with a numeric zone.
const dateLayout = "Mon, 02 Jan 2006 15:04:05 -0700"

// EnsureDate adds a Date field set to now when the header has none, and
// reports whether it added one. RFC 5322 section 3.6 requires the field and
// RFC 6409 section 8.2 lets a submission server supply it.
func (h *Header) EnsureDate(now time.Time) bool {
	if h.Has("Date") {
		return false
	}
	h.Add("Date", now.Format(dateLayout))
	return true
}

// messageIDEncoding is lowercase base32 without padding: only letters and
// digits, valid in the dot-atom-text of a msg-id (RFC 5322 section 3.6.4).
var messageIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// EnsureMessageID adds a field "Message-ID: <random@domain>" when the header
// has none, and reports whether it added one (RFC 5322 section 3.6.4 asks
// for the field, RFC 6409 section 8.3 lets a submission server supply it).
// The left part holds 160 random bits, so identifiers are unique without
// any state. domain should be the sender's domain or the relay's host name.
func (h *Header) EnsureMessageID(domain string) bool {
	if h.Has("Message-ID") {
		return false
	}
	var id [20]byte
	rand.Read(id[:]) // never fails (crypto/rand, Go 1.24+)
	h.Add("Message-ID", "<"+messageIDEncoding.EncodeToString(id[:])+"@"+strings.Trim(domain, " \t<>")+">")
	return true
}
