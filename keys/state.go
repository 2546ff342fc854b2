package keys

// State is where a key is in its life cycle.
type State string

const (
	// Pending keys are published (or about to be) but do not sign yet.
	Pending State = "pending"
	// Active keys sign every message from their domain.
	Active State = "active"
	// Retiring keys no longer sign; their DNS record stays until pruned.
	Retiring State = "retiring"
)

func (s State) valid() bool {
	return s == Pending || s == Active || s == Retiring
}
