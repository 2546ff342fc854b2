package pacing

import (
	"regexp"
	"strings"

	"dkimrelay/relay/outcome"
)

// throttleWording is the text of 421 and 451 replies that ask the sender
// to slow down: rate limits, too many messages or connections, Yahoo's
// TSS codes, Microsoft's "unusual rate".
var throttleWording = regexp.MustCompile(`(?i)rate.?limit|too many (messages|connections|recipients|mails|emails)|` +
	`throttl|unusual rate|\[?TSS0\d\]?|\bTS0\d\b|sending rate|receiving mail at a rate|` +
	`exceeded .*(rate|quota|limit)|slow down|try again later.*rate`)

// Throttled reports whether an outcome is a receiver's request to slow
// down: Gmail's 421 4.7.28, Outlook's 451 4.7.650, Yahoo's 421 4.7.0
// [TSS04], or a 421 or 451 whose text speaks of rates.
func Throttled(o outcome.Outcome) bool {
	if o.Status != outcome.Transient || (o.Code != 421 && o.Code != 451) {
		return false
	}
	switch o.Enhanced {
	case "4.7.28", "4.7.650":
		return true
	}
	text := o.Reply
	if o.MX != "" {
		text = strings.TrimPrefix(text, o.MX+" said: ")
	}
	return throttleWording.MatchString(text)
}
