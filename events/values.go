package events

import (
	"log/slog"
	"time"
)

// Duration is a duration as the event log writes it: Go's syntax ("1.5s"),
// which people and `dkimrelay logs` read. The metrics, reading the record
// before it is written, get the time.Duration itself.
type Duration time.Duration

// LogValue implements slog.LogValuer.
func (d Duration) LogValue() slog.Value { return slog.StringValue(time.Duration(d).String()) }

// Time is an instant as the event log writes it: RFC 3339 in UTC, to the
// second.
type Time time.Time

// LogValue implements slog.LogValuer.
func (t Time) LogValue() slog.Value {
	return slog.StringValue(time.Time(t).UTC().Format(time.RFC3339))
}

// orEmpty returns list, or an empty list for nil: the log writes [] for
// "none", never null.
func orEmpty(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}
