package dkim

import (
	"fmt"
	"strings"
)

// signedField is one entry of the header set a signature covers.
type signedField struct {
	name string
	// oversign lists the name once more than the message has it. A
	// verifier treats the extra instance as a field that does not exist
	// (the null string, RFC 6376 section 5.4.2), so the signature holds for
	// the message as sent, but a field of that name added later by anyone
	// takes that slot and breaks it (RFC 6376 section 8.15).
	oversign bool
}

// signedFields is the header set: the fields RFC 6376 section 5.4.1
// recommends signing, then Message-ID, the MIME fields that decide how the
// body is read, and the List-Unsubscribe-Post (RFC 8058 section 4) and
// Feedback-ID fields bulk senders add. Oversigned are the fields a replayed
// message could be made misleading with by adding a second instance: the
// originator fields (From, Sender, Reply-To), the destination fields, Subject, Date, Message-ID and every
// list-management field, so that a signature for a mail without a
// List-Unsubscribe cannot be reused on a copy that gains one, and the MIME
// fields, since a second Content-Type could change how the body is shown.
var signedFields = []signedField{
	{"From", true},
	{"Sender", true},
	{"Reply-To", true},
	{"Subject", true},
	{"Date", true},
	{"To", true},
	{"Cc", true},
	{"Resent-Date", false},
	{"Resent-From", false},
	{"Resent-To", false},
	{"Resent-Cc", false},
	{"In-Reply-To", false},
	{"References", false},
	{"List-Id", true},
	{"List-Help", true},
	{"List-Unsubscribe", true},
	{"List-Subscribe", true},
	{"List-Post", true},
	{"List-Owner", true},
	{"List-Archive", true},
	{"List-Unsubscribe-Post", true},
	{"Message-ID", true},
	{"MIME-Version", true},
	{"Content-Type", true},
	{"Content-Transfer-Encoding", true},
	{"Feedback-ID", false},
}

// maxHeaderList bounds the length of the h= tag. go-msgauth writes the tag
// on a line of its own, and RFC 5322 section 2.1.1 limits lines to 998
// characters.
const maxHeaderList = 990

// signedHeaderNames returns the h= tag list for h: each name of the header
// set as many times as h has it, plus once more if it is oversigned. A
// verifier takes the instances from the bottom of the header up (RFC 6376
// section 5.4.2), so where fields sit does not matter.
func signedHeaderNames(h *Header) ([]string, error) {
	var names []string
	length := 0
	for _, f := range signedFields {
		n := h.Count(f.name)
		if f.oversign {
			n++
		}
		for range n {
			names = append(names, f.name)
			length += len(f.name) + 1
		}
	}
	if length > maxHeaderList {
		var dup []string
		for _, f := range signedFields {
			if n := h.Count(f.name); n > 1 {
				dup = append(dup, fmt.Sprintf("%s %d times", f.name, n))
			}
		}
		return nil, fmt.Errorf("%w: too many header fields to sign (%s); RFC 5322 section 3.6 allows most of them only once",
			ErrMalformedHeader, strings.Join(dup, ", "))
	}
	return names, nil
}
