package keys

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// Step is what one call of Rotate did for one key type.
type Step string

const (
	// StepNone: the active key is young enough; nothing changed.
	StepNone Step = "none"
	// StepGenerated: a new pending key was made; its record must be
	// published before the next step can activate it.
	StepGenerated Step = "generated"
	// StepWaiting: a pending key exists but DNS does not serve its
	// record (yet); Rotation.Check says what DNS answered.
	StepWaiting Step = "waiting"
	// StepActivated: DNS serves the pending key's record, so it was
	// activated and the previous key of its type is retiring.
	StepActivated Step = "activated"
)

// Reason is why Rotate started a new rotation.
type Reason string

const (
	// ReasonNoActive: the domain has no active key of the type.
	ReasonNoActive Reason = "no-active-key"
	// ReasonAge: the active key has signed for RotateOptions.RotateAfter.
	ReasonAge Reason = "age"
	// ReasonForced: RotateOptions.StartNow was set.
	ReasonForced Reason = "forced"
	// ReasonAlgorithm: the active key is of another algorithm than the
	// one asked for, e.g. rsa2048 when rsa3072 was asked.
	ReasonAlgorithm Reason = "algorithm"
)

// RotateOptions configure Rotate.
type RotateOptions struct {
	// Algorithm chooses the key type to rotate ("rsa" or "ed25519") and
	// the new key's algorithm. Empty: every type the domain has an active
	// or pending key of, each keeping its active key's algorithm; RSA
	// (DefaultAlgorithm) when the domain has no key at all.
	Algorithm Algorithm
	// RotateAfter is how long a key signs (since its activation) before
	// a new rotation starts. It must be positive.
	RotateAfter time.Duration
	// StartNow starts a new rotation whatever the active key's age.
	StartNow bool
	// Lookup asks DNS for a pending key's record.
	Lookup TXTLookup
}

// Rotation is the outcome of Rotate for one key type of a domain.
type Rotation struct {
	Domain  string
	KeyType string // "rsa" or "ed25519"
	Step    Step
	// Reason is why the rotation started (StepGenerated).
	Reason Reason
	// Key is the key generated, waiting for DNS or activated; nil for
	// StepNone.
	Key *Key
	// Previous is the key of this type that was active before the step,
	// if any; for StepNone, the one that keeps signing.
	Previous *Key
	// Retired are the keys the activation retired (StepActivated).
	Retired []*Key
	// Check is what DNS says about Key (StepWaiting, StepActivated).
	Check CheckResult
	// Due is when the next rotation starts (StepNone).
	Due time.Time
	// Stale are pending keys of this type that rotation does not use:
	// older than the active key, or older than Key. An administrator
	// removes them with Remove.
	Stale []*Key
}

// Rotate takes one step of key rotation for domain, the same step whenever
// it is called again in the same situation, so that a daily cron job can
// drive the whole life cycle (RFC 6376 section 3.6.1 leaves rotation to
// the signer; M3AAWG's DKIM key rotation best practices describe these
// steps). For each key type:
//
//   - a pending key newer than the active key: if DNS serves its record it
//     is activated (StepActivated), else nothing changes (StepWaiting);
//   - otherwise, if there is no active key, the active key has signed for
//     RotateAfter, StartNow is set, or the active key's algorithm is not
//     the one asked for: a new pending key is generated (StepGenerated);
//   - otherwise nothing happens (StepNone) until Rotation.Due.
//
// A key is never generated and activated in one call: its record needs
// time to reach every secondary server. Retiring keys are left to Prune.
// DNS is asked without holding the store's lock; two Rotate calls racing
// on one store generate at most one pending key per type.
func (s *Store) Rotate(ctx context.Context, domain string, opts RotateOptions, now time.Time) ([]Rotation, error) {
	domain, err := normalizeDomain(domain)
	if err != nil {
		return nil, err
	}
	if opts.Algorithm != "" && !opts.Algorithm.valid() {
		_, err := ParseAlgorithm(string(opts.Algorithm))
		return nil, err
	}
	if opts.RotateAfter <= 0 {
		return nil, &keyError{ErrInvalid, fmt.Sprintf("the rotation age %v is not positive; keys.rotate_after must be more than zero", opts.RotateAfter)}
	}
	keys, _ := s.listDomain(domain)
	var out []Rotation
	for _, typ := range rotationTypes(keys, opts.Algorithm) {
		r, err := s.rotateType(ctx, domain, typ, keys, opts, now)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// rotationTypes is the key types Rotate works on, RSA first.
func rotationTypes(keys []*Key, alg Algorithm) []string {
	if alg != "" {
		return []string{alg.KeyType()}
	}
	var types []string
	for _, typ := range []string{RSA2048.KeyType(), Ed25519.KeyType()} {
		if slices.ContainsFunc(keys, func(k *Key) bool {
			return k.Algorithm.KeyType() == typ && (k.State == Active || k.State == Pending)
		}) {
			types = append(types, typ)
		}
	}
	if len(types) == 0 {
		types = []string{DefaultAlgorithm.KeyType()}
	}
	return types
}

// survey is what a domain has of one key type.
type survey struct {
	active  *Key   // the most recently activated active key
	pending *Key   // the newest pending key not older than active
	stale   []*Key // the other pending keys
}

func surveyType(keys []*Key, typ string) survey {
	var sv survey
	var pending []*Key
	for _, k := range keys {
		if k.Algorithm.KeyType() != typ {
			continue
		}
		switch k.State {
		case Active:
			if sv.active == nil || k.Activated.After(sv.active.Activated) {
				sv.active = k
			}
		case Pending:
			pending = append(pending, k)
		}
	}
	// Newest first; selectors break ties of keys made the same second.
	slices.SortFunc(pending, func(a, b *Key) int {
		return cmp.Or(b.Created.Compare(a.Created), cmp.Compare(b.Selector, a.Selector))
	})
	for _, k := range pending {
		// A pending key older than the active key was passed over by
		// an earlier rotation (or an administrator); activating it now
		// would undo that rotation.
		if sv.pending != nil || (sv.active != nil && k.Created.Before(sv.active.Created)) {
			sv.stale = append(sv.stale, k)
			continue
		}
		sv.pending = k
	}
	return sv
}

func defaultAlgorithm(typ string) Algorithm {
	if typ == Ed25519.KeyType() {
		return Ed25519
	}
	return DefaultAlgorithm
}

func (s *Store) rotateType(ctx context.Context, domain, typ string, keys []*Key, opts RotateOptions, now time.Time) (Rotation, error) {
	sv := surveyType(keys, typ)
	r := Rotation{Domain: domain, KeyType: typ, Previous: sv.active, Stale: sv.stale}
	if sv.pending != nil {
		return s.activateIfPublished(ctx, r, sv.pending, opts.Lookup, now)
	}

	alg := opts.Algorithm
	if alg == "" {
		alg = defaultAlgorithm(typ)
		if sv.active != nil {
			alg = sv.active.Algorithm
		}
	}
	switch {
	case sv.active == nil:
		r.Reason = ReasonNoActive
	case opts.StartNow:
		r.Reason = ReasonForced
	case opts.Algorithm != "" && sv.active.Algorithm != opts.Algorithm:
		r.Reason = ReasonAlgorithm
	case !now.Before(sv.active.Activated.Add(opts.RotateAfter)):
		r.Reason = ReasonAge
	default:
		r.Step = StepNone
		r.Due = sv.active.Activated.Add(opts.RotateAfter)
		return r, nil
	}

	m, err := s.newMaterial(alg)
	if err != nil {
		return r, err
	}
	var raced *Key
	err = s.mutate(func() error {
		// Another command may have made a key since the store was read:
		// then that key is the one this rotation waits for.
		again, _ := s.listDomain(domain)
		if p := surveyType(again, typ).pending; p != nil {
			raced = p
			return nil
		}
		k, err := s.commitNew(domain, "", m, now)
		if err != nil {
			return err
		}
		r.Step, r.Key = StepGenerated, k
		return nil
	})
	if err != nil {
		return r, err
	}
	if raced != nil {
		r.Reason = ""
		r.Check = CheckPublished(ctx, opts.Lookup, raced)
		r.Step, r.Key = StepWaiting, raced
	}
	return r, nil
}

// activateIfPublished is the step for a pending key: activate it if DNS
// serves its record, else report what DNS says.
func (s *Store) activateIfPublished(ctx context.Context, r Rotation, pending *Key, lookup TXTLookup, now time.Time) (Rotation, error) {
	r.Key = pending
	r.Check = CheckPublished(ctx, lookup, pending)
	if r.Check.State != Published {
		r.Step = StepWaiting
		return r, nil
	}
	k, retired, err := s.Activate(pending.Domain, pending.Selector, now)
	if err != nil {
		return r, err
	}
	r.Step, r.Key, r.Retired = StepActivated, k, retired
	return r, nil
}
