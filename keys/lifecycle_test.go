package keys

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestStateMachine applies every operation to key k1 in every state.
func TestStateMachine(t *testing.T) {
	const grace = 7 * 24 * time.Hour
	var (
		created   = t0
		activated = t0.Add(time.Hour)
		retired   = t0.Add(2 * time.Hour)
		later     = t0.Add(3 * time.Hour)
	)
	// setup puts k1 in the given state ("" = no such key). k0 is an
	// unrelated key of another domain that no operation may touch.
	setup := func(t *testing.T, state State) *Store {
		s := openTest(t)
		mustGenerate(t, s, "example.net", Ed25519, "k0", created)
		if state == "" {
			return s
		}
		mustGenerate(t, s, testDomain, Ed25519, "k1", created)
		if state == Pending {
			return s
		}
		mustActivate(t, s, testDomain, "k1", activated)
		if state == Active {
			return s
		}
		mustGenerate(t, s, testDomain, Ed25519, "k2", created)
		mustActivate(t, s, testDomain, "k2", retired)
		return s
	}
	type result struct {
		err   error // sentinel
		state State // of k1 afterwards; "" = gone
		// dates of k1 afterwards
		activated, retired time.Time
	}
	ops := []struct {
		name string
		do   func(s *Store) error
		want map[State]result // by initial state
	}{
		{
			name: "generate same selector",
			do: func(s *Store) error {
				_, err := s.Generate(testDomain, Ed25519, "k1", later)
				return err
			},
			want: map[State]result{
				"":       {state: Pending},
				Pending:  {err: ErrExists, state: Pending},
				Active:   {err: ErrExists, state: Active, activated: activated},
				Retiring: {err: ErrExists, state: Retiring, activated: activated, retired: retired},
			},
		},
		{
			name: "activate",
			do: func(s *Store) error {
				_, _, err := s.Activate(testDomain, "k1", later)
				return err
			},
			want: map[State]result{
				"":       {err: ErrNotFound},
				Pending:  {state: Active, activated: later},
				Active:   {state: Active, activated: activated}, // no-op
				Retiring: {state: Active, activated: later},     // rollback
			},
		},
		{
			name: "remove",
			do:   func(s *Store) error { return s.Remove(testDomain, "k1") },
			want: map[State]result{
				"":       {err: ErrNotFound},
				Pending:  {state: ""},
				Active:   {err: ErrState, state: Active, activated: activated},
				Retiring: {err: ErrState, state: Retiring, activated: activated, retired: retired},
			},
		},
		{
			name: "prune within grace",
			do: func(s *Store) error {
				_, err := s.Prune(testDomain, grace, retired.Add(grace-time.Second))
				return err
			},
			want: map[State]result{
				"":       {},
				Pending:  {state: Pending},
				Active:   {state: Active, activated: activated},
				Retiring: {state: Retiring, activated: activated, retired: retired},
			},
		},
		{
			name: "prune after grace",
			do: func(s *Store) error {
				_, err := s.Prune("", grace, retired.Add(grace))
				return err
			},
			want: map[State]result{
				"":       {},
				Pending:  {state: Pending},
				Active:   {state: Active, activated: activated},
				Retiring: {state: ""},
			},
		},
	}
	for _, op := range ops {
		for _, initial := range []State{"", Pending, Active, Retiring} {
			name := string(initial)
			if name == "" {
				name = "absent"
			}
			t.Run(op.name+"/"+name, func(t *testing.T) {
				want := op.want[initial]
				s := setup(t, initial)
				err := op.do(s)
				if !errors.Is(err, want.err) || (err != nil) != (want.err != nil) {
					t.Fatalf("error = %v, want %v", err, want.err)
				}
				if err != nil && !strings.Contains(err.Error(), "k1") {
					t.Errorf("error %q does not name the selector", err)
				}
				k, err := s.Get(testDomain, "k1")
				if want.state == "" {
					if !errors.Is(err, ErrNotFound) {
						t.Fatalf("Get(k1) = %v, %v; want ErrNotFound", k, err)
					}
				} else {
					if err != nil {
						t.Fatalf("Get(k1): %v", err)
					}
					if k.State != want.state || !k.Activated.Equal(want.activated) || !k.Retired.Equal(want.retired) {
						t.Errorf("k1 = %s activated %v retired %v; want %s activated %v retired %v",
							k.State, k.Activated, k.Retired, want.state, want.activated, want.retired)
					}
				}
				if _, err := s.Get("example.net", "k0"); err != nil {
					t.Errorf("unrelated key k0: %v", err)
				}
				if _, errs := s.List(); len(errs) > 0 {
					t.Errorf("List errors: %v", errs)
				}
			})
		}
	}
}

func TestActivateRetiresSameTypeOnly(t *testing.T) {
	s := openTest(t)
	mustGenerate(t, s, testDomain, RSA2048, "r1", t0)
	mustGenerate(t, s, testDomain, Ed25519, "e1", t0)
	mustGenerate(t, s, "example.net", Ed25519, "e1", t0)
	for _, sel := range []string{"r1", "e1"} {
		if retired := mustActivate(t, s, testDomain, sel, t0); len(retired) != 0 {
			t.Errorf("first activation of %s retired %v", sel, selectorsOf(retired))
		}
	}
	mustActivate(t, s, "example.net", "e1", t0)

	mustGenerate(t, s, testDomain, Ed25519, "e2", t0)
	key, retired, err := s.Activate(testDomain, "e2", t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if key.Selector != "e2" || key.State != Active || key.Signer == nil {
		t.Errorf("Activate returned %+v", key)
	}
	if got := selectorsOf(retired); !slices.Equal(got, []string{"e1:retiring"}) {
		t.Fatalf("retired = %v, want [e1:retiring]", got)
	}
	if !retired[0].Retired.Equal(t0.Add(time.Hour)) || retired[0].Signer == nil {
		t.Errorf("retired key = %+v", retired[0])
	}
	if got := selectorsOf(s.Active(testDomain)); !slices.Equal(got, []string{"r1:active", "e2:active"}) {
		t.Errorf("Active = %v, want RSA first then Ed25519", got)
	}
	if got := selectorsOf(s.Active("example.net")); !slices.Equal(got, []string{"e1:active"}) {
		t.Errorf("other domain's Active = %v", got)
	}

	// RSA sizes are one type: a new RSA key retires r1. (The fixture is
	// 2048 bits; the metadata must agree, so this stays rsa2048.)
	mustGenerate(t, s, testDomain, RSA2048, "r2", t0)
	if got := selectorsOf(mustActivate(t, s, testDomain, "r2", t0)); !slices.Equal(got, []string{"r1:retiring"}) {
		t.Errorf("activating r2 retired %v", got)
	}
}

// TestActivateFinishesInterrupted: a crash between marking the new key
// active and retiring the old one leaves two active keys; activating again
// retires the old one.
func TestActivateFinishesInterrupted(t *testing.T) {
	s := openTest(t)
	mustGenerate(t, s, testDomain, Ed25519, "old", t0)
	mustActivate(t, s, testDomain, "old", t0)
	k := mustGenerate(t, s, testDomain, Ed25519, "new", t0)
	k.State, k.Activated = Active, t0 // what the interrupted Activate wrote
	if err := s.writeMeta(k); err != nil {
		t.Fatal(err)
	}
	if got := len(s.Active(testDomain)); got != 2 {
		t.Fatalf("setup: %d active keys, want 2", got)
	}
	retired := mustActivate(t, s, testDomain, "new", t0.Add(time.Minute))
	if got := selectorsOf(retired); !slices.Equal(got, []string{"old:retiring"}) {
		t.Errorf("retired = %v, want [old:retiring]", got)
	}
	if got := selectorsOf(s.Active(testDomain)); !slices.Equal(got, []string{"new:active"}) {
		t.Errorf("Active = %v", got)
	}
}

func TestPrune(t *testing.T) {
	const grace = 48 * time.Hour
	s := openTest(t)
	// Each domain gets a retiring key "a", retired at t0, and an active "b".
	for _, d := range []string{"example.org", "example.net"} {
		mustGenerate(t, s, d, Ed25519, "a", t0)
		mustActivate(t, s, d, "a", t0)
		mustGenerate(t, s, d, Ed25519, "b", t0)
		mustActivate(t, s, d, "b", t0)
	}
	k, _ := s.Get(testDomain, "a")
	if got, want := k.RemovableAfter(grace), t0.Add(grace); !got.Equal(want) {
		t.Errorf("RemovableAfter = %v, want %v", got, want)
	}
	if b, _ := s.Get(testDomain, "b"); !b.RemovableAfter(grace).IsZero() {
		t.Errorf("active key has RemovableAfter %v, want zero", b.RemovableAfter(grace))
	}

	if pruned, err := s.Prune("", grace, t0.Add(grace-time.Second)); err != nil || len(pruned) != 0 {
		t.Errorf("Prune before grace = %v, %v; want nothing", selectorsOf(pruned), err)
	}
	pruned, err := s.Prune("EXAMPLE.org", grace, t0.Add(grace))
	if err != nil || len(pruned) != 1 || pruned[0].Domain != testDomain || pruned[0].Selector != "a" {
		t.Fatalf("Prune(example.org) = %v, %v; want example.org a", pruned, err)
	}
	// The pruned key still knows its record, to tell what to delete.
	if v, err := pruned[0].RecordValue(); err != nil || !strings.Contains(v, "k=ed25519") {
		t.Errorf("pruned key RecordValue = %q, %v", v, err)
	}
	if _, err := s.Get("example.net", "a"); err != nil {
		t.Errorf("Prune(example.org) touched example.net: %v", err)
	}
	pruned, err = s.Prune("", grace, t0.Add(grace))
	if err != nil || len(pruned) != 1 || pruned[0].Domain != "example.net" {
		t.Errorf("Prune(all) = %v, %v; want example.net a", pruned, err)
	}
	keys, errs := s.List()
	if len(errs) != 0 || len(keys) != 2 {
		t.Errorf("after pruning: %v, %v; want the two active keys", selectorsOf(keys), errs)
	}
	if _, err := s.Prune("", -time.Hour, t0); !errors.Is(err, ErrInvalid) {
		t.Errorf("Prune(negative) = %v, want ErrInvalid", err)
	}
	if _, err := s.Prune("bad_domain", grace, t0); !errors.Is(err, ErrInvalid) {
		t.Errorf("Prune(bad domain) = %v, want ErrInvalid", err)
	}
}

func TestStateErrorsSayWhatToDo(t *testing.T) {
	s := openTest(t)
	mustGenerate(t, s, testDomain, Ed25519, "s1", t0)
	mustActivate(t, s, testDomain, "s1", t0)
	err := s.Remove(testDomain, "s1")
	if !errors.Is(err, ErrState) {
		t.Fatalf("Remove(active) = %v", err)
	}
	for _, want := range []string{"s1", testDomain, "active", "dkimrelay keys"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	_, err = s.Get(testDomain, "nope")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "dkimrelay keys list") {
		t.Errorf("Get(missing) = %v", err)
	}
}

// A derived selector is never one a removed key had: its record may still
// be in DNS or cached. A selector given by name may still be reused.
func TestDerivedSelectorSkipsRemovedKeys(t *testing.T) {
	s := openTest(t)
	first, err := s.Generate(testDomain, Ed25519, "", t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(testDomain, first.Selector); err != nil {
		t.Fatal(err)
	}
	second, err := s.Generate(testDomain, Ed25519, "", t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if second.Selector == first.Selector || second.Selector != first.Selector+"2" {
		t.Fatalf("after removing %s, the next derived selector is %s; want %s2", first.Selector, second.Selector, first.Selector)
	}
	// Pruning leaves the same mark.
	mustActivate(t, s, testDomain, second.Selector, t0)
	mustGenerate(t, s, testDomain, Ed25519, "b", t0)
	mustActivate(t, s, testDomain, "b", t0.Add(time.Hour))
	if pruned, err := s.Prune(testDomain, 0, t0.Add(2*time.Hour)); err != nil || len(pruned) != 1 {
		t.Fatalf("Prune = %v, %v", selectorsOf(pruned), err)
	}
	third, err := s.Generate(testDomain, Ed25519, "", t0.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if third.Selector != first.Selector+"3" {
		t.Fatalf("after pruning %s, the next derived selector is %s; want %s3", second.Selector, third.Selector, first.Selector)
	}
	if _, err := s.Generate(testDomain, Ed25519, first.Selector, t0); err != nil {
		t.Errorf("reusing a removed selector by name: %v", err)
	}
	if keys, errs := s.List(); len(errs) != 0 || len(keys) != 3 {
		t.Errorf("the markers disturb the listing: %v, %v", selectorsOf(keys), errs)
	}
}
