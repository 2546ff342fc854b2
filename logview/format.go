package logview

import (
	"dkimrelay/events"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// fieldOrder puts the fields an administrator looks for first: who, where
// it went, how (TLS), the outcome and delay, and the long texts last.
var fieldOrder = []string{
	events.RcptKey, events.FromKey, events.RcptsKey, events.UserKey,
	events.MechanismKey, events.ResultKey, events.DomainKey, events.IPKey,
	events.MXKey, events.RemoteKey, events.TLSKey, events.CodeKey,
	events.DelayKey, events.NextAttemptKey, events.AttemptsKey,
	events.SizeKey, events.DKIMKey, events.KindKey, events.MessagesKey,
	events.ReplyKey, events.ReasonKey, events.DetailKey, events.ErrorKey,
}

// timeLayout is the time column: to the second, which is what a person
// reads; --json keeps the full precision.
const timeLayout = "2006-01-02 15:04:05"

// Format renders e as one line: its time in loc (nil: as logged), event, QID ("-" for events
// about no message), then its fields as key=value, the usual ones in a
// fixed order and any others sorted by name. Values with spaces or
// control characters are quoted: remote replies come from strangers, and
// an escape sequence in one must not reach the terminal.
func Format(e *Event, loc *time.Location) string {
	var b strings.Builder
	t := e.Time
	if loc != nil {
		t = t.In(loc)
	}
	b.WriteString(t.Format(timeLayout))
	qid := e.QID
	if qid == "" {
		qid = "-"
	}
	// The event name, QID and keys are the relay's own, but the file may
	// have been edited or damaged: they pass through quote too.
	fmt.Fprintf(&b, "  %-13s  %-20s", quote(e.Name), quote(qid))
	seen := map[string]bool{}
	write := func(k string) {
		seen[k] = true
		v := e.String(k)
		if v == "" {
			return
		}
		b.WriteByte(' ')
		b.WriteString(quote(k))
		b.WriteByte('=')
		b.WriteString(quote(v))
	}
	for _, k := range fieldOrder {
		if _, ok := e.Fields[k]; ok {
			write(k)
		}
	}
	var rest []string
	for k := range e.Fields {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	for _, k := range rest {
		write(k)
	}
	if e.Level != "" && e.Level != "INFO" {
		b.WriteString(" level=")
		b.WriteString(quote(e.Level))
	}
	return strings.TrimRight(b.String(), " ")
}

func quote(v string) string {
	for _, r := range v {
		if r == ' ' || r == '"' || r == '=' || r == '\\' || !unicode.IsPrint(r) {
			return strconv.Quote(v)
		}
	}
	return v
}
