// Package suppress keeps the relay from hurting its domain's name with the
// receivers: it holds back the recipients on the suppression list, adds to
// the list the recipients whose server said the mailbox does not exist,
// and tells a refusal because of the sender (a block the administrator must
// lift) from one because of the mailbox. See docs/deliverability.md,
// "Suppression list".
package suppress

import (
	"regexp"
	"strings"

	"dkimrelay/relay/outcome"
)

// Verdict is what a permanent failure says about its recipient.
type Verdict int

// Verdicts.
const (
	// Other: a permanent failure that says nothing about the mailbox
	// (message too large, content refused, ...).
	Other Verdict = iota
	// NoMailbox: the mailbox or its domain does not exist or cannot take
	// mail (5.1.x, a null MX, a 550 with "no such user" wording): the
	// recipient is suppressed.
	NoMailbox
	// SenderBlocked: the receiver refuses the sender (5.7.x, a
	// blocklist): no recipient is suppressed, the administrator is told.
	SenderBlocked
)

func (v Verdict) String() string {
	switch v {
	case NoMailbox:
		return "no_mailbox"
	case SenderBlocked:
		return "sender_blocked"
	}
	return "other"
}

// blocklistWording is the text of replies that refuse the sender whatever
// their code: blocklists, reputation and policy blocks.
var blocklistWording = regexp.MustCompile(`(?i)\b(block|black|deny|dnsbl|rbl)[ -]?list(ed|ing)?\b|` +
	`\bblocked\b|spamhaus|spamcop|barracuda|\bsorbs\b|\buceprotect|\breputation\b|` +
	`\blisted (at|on|by|in (the )?(rbl|dnsbl|spamhaus))\b|\bpolicy (reason|violation)`)

// mailboxWording is the text of a 5yz without an enhanced code that says
// the mailbox does not exist.
var mailboxWording = regexp.MustCompile(`(?i)no such (user|mailbox|recipient|address|account)|` +
	`(user|recipient|mailbox|address|account)( name)? (unknown|not found|does not exist|doesn't exist|invalid|disabled|unavailable)|` +
	`unknown (user|recipient|mailbox|address)|invalid (recipient|mailbox|address)|` +
	`(mailbox|account|address) (is )?(not available|unavailable|disabled|inactive)|` +
	`does not exist|doesn't exist|not a valid (mailbox|recipient|user)`)

// Classify reads a permanent failure. Anything else is Other.
//
// The enhanced status code decides when there is one (RFC 3463): 5.1.x is
// about the address, except 5.1.7 and 5.1.8, which are about the sender's;
// 5.7.x is a policy refusal. A reply that names a blocklist is
// SenderBlocked whatever its code, so that a block never suppresses a
// recipient. Without an enhanced code (delivery reports 5.0.0), a 550, 551
// or 553 whose text says the user does not exist is NoMailbox.
func Classify(o outcome.Outcome) Verdict {
	if o.Status != outcome.Permanent {
		return Other
	}
	text := o.Reply
	if o.MX != "" {
		text = strings.TrimPrefix(text, o.MX+" said: ")
	}
	remote := o.MX != "" || o.Code != 0
	switch {
	case remote && (strings.HasPrefix(o.Enhanced, "5.7.") || blocklistWording.MatchString(text)):
		return SenderBlocked
	case strings.HasPrefix(o.Enhanced, "5.1.") && o.Enhanced != "5.1.7" && o.Enhanced != "5.1.8":
		return NoMailbox
	case remote && o.Enhanced == "5.0.0" && (o.Code == 550 || o.Code == 551 || o.Code == 553) && mailboxWording.MatchString(text):
		return NoMailbox
	}
	return Other
}
