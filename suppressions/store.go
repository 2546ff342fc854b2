// Package suppressions keeps the recipients the relay does not deliver to:
// addresses whose server said they do not exist (docs/deliverability.md,
// "Suppression list"), and addresses the administrator added. The CLI and
// the running relay share the store; a change by one is seen by the other
// without a restart.
package suppressions

import (
	"errors"
	"strings"
	"time"
)

// Entry is one suppressed recipient.
type Entry struct {
	// Addr is the address as it was first suppressed.
	Addr string `json:"addr"`
	// Reason is why: "bounce" for a permanent failure naming the mailbox,
	// or the administrator's text.
	Reason string `json:"reason"`
	// Reply is the receiving server's reply that suppressed it, "" for an
	// address the administrator added.
	Reply string `json:"reply,omitempty"`
	// QID is the message whose bounce suppressed it.
	QID     string    `json:"qid,omitempty"`
	Created time.Time `json:"created"`
	// Until is when the suppression lapses; zero is never (added by hand).
	Until time.Time `json:"until,omitzero"`
}

// Active reports whether e suppresses its address at now.
func (e Entry) Active(now time.Time) bool { return e.Until.IsZero() || now.Before(e.Until) }

// Store is where the suppressions live: a file in the data dir (FileStore),
// or a database shared by several relays.
type Store interface {
	// Lookup returns the active entry for addr, compared as Key does.
	Lookup(addr string, now time.Time) (Entry, bool, error)
	// Add suppresses e.Addr, replacing an entry for the same address.
	Add(e Entry) error
	// Remove lifts the suppression of addr and reports whether there
	// was one.
	Remove(addr string) (bool, error)
	// List returns the active entries, sorted by address.
	List(now time.Time) ([]Entry, error)
}

// ErrBadAddress is returned for an address that is not local@domain.
var ErrBadAddress = errors.New("not a mail address (local@domain)")

// Key is the form in which addresses are compared: the domain without
// regard to case (RFC 5321 section 2.4) and, since no mailbox provider
// tells them apart, the local part too. Only ASCII letters fold, so that
// no Unicode look-alike matches an address it is not. A trailing dot of
// the domain is dropped.
func Key(addr string) (string, error) {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return "", ErrBadAddress
	}
	local, domain := addr[:at], strings.TrimSuffix(addr[at+1:], ".")
	if domain == "" || strings.ContainsAny(addr, " \t\r\n<>") {
		return "", ErrBadAddress
	}
	return lowerASCII(local) + "@" + lowerASCII(domain), nil
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}
