package authcheck

// Action is what a sender check asks the relay to do with a message.
type Action int

const (
	// Pass lets the message go on.
	Pass Action = iota
	// TempFail refuses it for now: the check could not be completed (a
	// DNS failure) and may pass later.
	TempFail
	// Reject refuses it for good: the receiver would reject it.
	Reject
)

// Verdict is the answer of a sender check under the configured policy.
type Verdict struct {
	Action Action
	// Reason says why a message is refused, in words for the
	// application's log and its administrator; one problem a line.
	Reason string
}

// Passed reports whether the message may go on.
func (v Verdict) Passed() bool { return v.Action == Pass }

var pass = Verdict{Action: Pass}
