package keys

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeDNS answers for the store's keys as the test says: each selector
// maps to what DNS should say about it; absent selectors are missing.
func fakeDNS(t *testing.T, s *Store, says map[string]Publication) TXTLookup {
	return func(_ context.Context, name string) ([]string, error) {
		sel, ok := strings.CutSuffix(name, "._domainkey."+testDomain)
		if !ok {
			t.Errorf("looked up %q, outside %s", name, testDomain)
		}
		switch says[sel] {
		case Published:
			k, err := s.Get(testDomain, sel)
			if err != nil {
				return nil, err
			}
			v, err := k.RecordValue()
			return []string{v}, err
		case Different:
			return []string{"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="}, nil
		case Revoked:
			return []string{"v=DKIM1; k=ed25519; p="}, nil
		case DNSError:
			return nil, &net.DNSError{Err: "server misbehaving", Name: name, IsTemporary: true}
		}
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
}

// describe is a rotation in one line: type:step[:reason] key [retired...] [stale...].
func describe(r Rotation) string {
	s := r.KeyType + ":" + string(r.Step)
	if r.Reason != "" {
		s += ":" + string(r.Reason)
	}
	if r.Key != nil {
		s += " " + r.Key.Selector + "/" + string(r.Key.Algorithm)
	}
	if r.Step == StepWaiting {
		s += " dns=" + string(r.Check.State)
	}
	for _, k := range r.Retired {
		s += " retired=" + k.Selector
	}
	for _, k := range r.Stale {
		s += " stale=" + k.Selector
	}
	return s
}

func TestRotate(t *testing.T) {
	const rotateAfter = 90 * 24 * time.Hour
	day := 24 * time.Hour
	young := t0.Add(10 * day)  // the active key has signed 10 days
	old := t0.Add(rotateAfter) // ... exactly keys.rotate_after
	// active makes an active key of alg activated at t0.
	active := func(sel string, alg Algorithm) func(*testing.T, *Store) {
		return func(t *testing.T, s *Store) {
			mustGenerate(t, s, testDomain, alg, sel, t0.Add(-day))
			mustActivate(t, s, testDomain, sel, t0)
		}
	}
	pending := func(sel string, alg Algorithm, created time.Time) func(*testing.T, *Store) {
		return func(t *testing.T, s *Store) { mustGenerate(t, s, testDomain, alg, sel, created) }
	}
	cases := []struct {
		name  string
		setup []func(*testing.T, *Store)
		alg   Algorithm
		force bool
		dns   map[string]Publication
		now   time.Time
		want  []string // describe() of each rotation
		after []string // selector:state of every key afterwards
	}{
		{
			name: "no key at all: RSA by default",
			now:  t0,
			want: []string{"rsa:generated:no-active-key s202611r/rsa2048"}, after: []string{"s202611r:pending"},
		},
		{
			name: "no key at all, ed25519 asked",
			alg:  Ed25519, now: t0,
			want: []string{"ed25519:generated:no-active-key s202611e/ed25519"}, after: []string{"s202611e:pending"},
		},
		{
			name:  "young active key: nothing to do",
			setup: []func(*testing.T, *Store){active("a", Ed25519)},
			now:   young,
			want:  []string{"ed25519:none"}, after: []string{"a:active"},
		},
		{
			name:  "one second before rotate_after: nothing to do",
			setup: []func(*testing.T, *Store){active("a", Ed25519)},
			now:   old.Add(-time.Second),
			want:  []string{"ed25519:none"}, after: []string{"a:active"},
		},
		{
			name:  "active key reached rotate_after: new key of the same algorithm",
			setup: []func(*testing.T, *Store){active("a", Ed25519)},
			now:   old,
			want:  []string{"ed25519:generated:age s202702e/ed25519"}, after: []string{"a:active", "s202702e:pending"},
		},
		{
			name:  "young active key, started by hand",
			setup: []func(*testing.T, *Store){active("a", Ed25519)},
			force: true, now: young,
			want: []string{"ed25519:generated:forced s202611e/ed25519"}, after: []string{"a:active", "s202611e:pending"},
		},
		{
			name:  "young rsa2048 key, rsa3072 asked: upgrade now",
			setup: []func(*testing.T, *Store){active("a", RSA2048)},
			alg:   RSA3072, now: young,
			want: []string{"rsa:generated:algorithm s202611r/rsa3072"}, after: []string{"a:active", "s202611r:pending"},
		},
		{
			name:  "rsa3072 active, nothing asked: keeps rsa3072",
			setup: []func(*testing.T, *Store){active("a", RSA3072)},
			now:   old,
			want:  []string{"rsa:generated:age s202702r/rsa3072"}, after: []string{"a:active", "s202702r:pending"},
		},
		{
			name:  "rsa active, ed25519 asked: a first ed25519 key, rsa untouched",
			setup: []func(*testing.T, *Store){active("a", RSA2048)},
			alg:   Ed25519, now: old,
			want: []string{"ed25519:generated:no-active-key s202702e/ed25519"}, after: []string{"a:active", "s202702e:pending"},
		},
		{
			name:  "both types active, nothing asked: each on its own",
			setup: []func(*testing.T, *Store){active("a", RSA2048), active("b", Ed25519), pending("c", Ed25519, t0.Add(day))},
			dns:   map[string]Publication{"c": Published},
			now:   young,
			want:  []string{"rsa:none", "ed25519:activated c/ed25519 retired=b"},
			after: []string{"a:active", "b:retiring", "c:active"},
		},
		{
			name:  "pending key not in DNS: waiting",
			setup: []func(*testing.T, *Store){active("a", Ed25519), pending("n", Ed25519, young)},
			now:   young,
			want:  []string{"ed25519:waiting n/ed25519 dns=missing"}, after: []string{"a:active", "n:pending"},
		},
		{
			name:  "pending key, DNS has another key: waiting",
			setup: []func(*testing.T, *Store){active("a", Ed25519), pending("n", Ed25519, young)},
			dns:   map[string]Publication{"n": Different},
			now:   young,
			want:  []string{"ed25519:waiting n/ed25519 dns=different"}, after: []string{"a:active", "n:pending"},
		},
		{
			name:  "pending key revoked in DNS: waiting",
			setup: []func(*testing.T, *Store){active("a", Ed25519), pending("n", Ed25519, young)},
			dns:   map[string]Publication{"n": Revoked},
			now:   young,
			want:  []string{"ed25519:waiting n/ed25519 dns=revoked"}, after: []string{"a:active", "n:pending"},
		},
		{
			name:  "pending key, DNS failing: waiting",
			setup: []func(*testing.T, *Store){active("a", Ed25519), pending("n", Ed25519, young)},
			dns:   map[string]Publication{"n": DNSError},
			now:   young,
			want:  []string{"ed25519:waiting n/ed25519 dns=dns-error"}, after: []string{"a:active", "n:pending"},
		},
		{
			name:  "pending key published: activated, old key retiring",
			setup: []func(*testing.T, *Store){active("a", Ed25519), pending("n", Ed25519, young)},
			dns:   map[string]Publication{"n": Published},
			now:   young,
			want:  []string{"ed25519:activated n/ed25519 retired=a"}, after: []string{"a:retiring", "n:active"},
		},
		{
			name:  "first key published: activated",
			setup: []func(*testing.T, *Store){pending("n", RSA2048, t0)},
			dns:   map[string]Publication{"n": Published},
			now:   t0,
			want:  []string{"rsa:activated n/rsa2048"}, after: []string{"n:active"},
		},
		{
			name:  "pending key older than the active key is stale, not activated",
			setup: []func(*testing.T, *Store){pending("z", Ed25519, t0.Add(-2*day)), active("a", Ed25519)},
			dns:   map[string]Publication{"z": Published},
			now:   young,
			want:  []string{"ed25519:none stale=z"}, after: []string{"a:active", "z:pending"},
		},
		{
			name:  "stale pending key does not stop a rotation",
			setup: []func(*testing.T, *Store){pending("z", Ed25519, t0.Add(-2*day)), active("a", Ed25519)},
			now:   old,
			want:  []string{"ed25519:generated:age s202702e/ed25519 stale=z"}, after: []string{"a:active", "s202702e:pending", "z:pending"},
		},
		{
			name:  "two pending keys: the newest is the one",
			setup: []func(*testing.T, *Store){active("a", Ed25519), pending("m", Ed25519, young), pending("n", Ed25519, young.Add(time.Hour))},
			dns:   map[string]Publication{"m": Published, "n": Published},
			now:   young,
			want:  []string{"ed25519:activated n/ed25519 retired=a stale=m"}, after: []string{"a:retiring", "m:pending", "n:active"},
		},
		{
			name:  "retiring keys play no part",
			setup: []func(*testing.T, *Store){active("a", Ed25519), active("b", Ed25519)},
			now:   young,
			want:  []string{"ed25519:none"}, after: []string{"a:retiring", "b:active"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t)
			mustGenerate(t, s, "example.net", Ed25519, "other", t0) // must stay untouched
			for _, f := range tc.setup {
				f(t, s)
			}
			opts := RotateOptions{Algorithm: tc.alg, RotateAfter: rotateAfter, StartNow: tc.force, Lookup: fakeDNS(t, s, tc.dns)}
			rs, err := s.Rotate(context.Background(), testDomain, opts, tc.now)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rs {
				got = append(got, describe(r))
				if r.Step == StepNone && !r.Due.Equal(r.Previous.Activated.Add(rotateAfter)) {
					t.Errorf("due %v, want activation + rotate_after", r.Due)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("rotations\n got %q\nwant %q", got, tc.want)
			}
			all, errs := s.List()
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			var after []string
			for _, k := range all {
				if k.Domain == testDomain {
					after = append(after, k.Selector+":"+string(k.State))
				}
			}
			if !slices.Equal(after, tc.after) {
				t.Errorf("keys afterwards %q, want %q", after, tc.after)
			}
			if k, err := s.Get("example.net", "other"); err != nil || k.State != Pending {
				t.Errorf("another domain's key changed: %v %v", k, err)
			}
		})
	}
}

// TestRotateCycle runs the daily cron job through two whole rotations and
// checks that it never churns: each day's step is the one the situation
// calls for, and a second run the same day changes nothing.
func TestRotateCycle(t *testing.T) {
	const rotateAfter, grace = 30 * 24 * time.Hour, 7 * 24 * time.Hour
	s := openTest(t)
	published := map[string]Publication{}
	opts := RotateOptions{Algorithm: Ed25519, RotateAfter: rotateAfter, Lookup: fakeDNS(t, s, published)}
	var log []string
	for d := range 70 {
		now := t0.Add(time.Duration(d) * 24 * time.Hour)
		generated := ""
		for run := range 2 {
			rs, err := s.Rotate(context.Background(), testDomain, opts, now)
			if err != nil {
				t.Fatal(err)
			}
			r := rs[0]
			if run == 1 {
				// Same day, second run: never a new step; a key the
				// first run generated is now waiting for DNS.
				if r.Step == StepGenerated || r.Step == StepActivated {
					t.Fatalf("day %d: second run did %s", d, describe(r))
				}
				continue
			}
			if r.Step != StepNone {
				log = append(log, fmt.Sprintf("day %d: %s", d, describe(r)))
			}
			if r.Step == StepGenerated {
				generated = r.Key.Selector
			}
		}
		if generated != "" {
			// The administrator (or --publish) publishes the record
			// later the same day.
			published[generated] = Published
		}
		pruned, err := s.Prune(testDomain, grace, now)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range pruned {
			log = append(log, fmt.Sprintf("day %d: pruned %s", d, k.Selector))
		}
	}
	want := []string{
		"day 0: ed25519:generated:no-active-key s202611e/ed25519",
		"day 1: ed25519:activated s202611e/ed25519",
		"day 31: ed25519:generated:age s202612e/ed25519",
		"day 32: ed25519:activated s202612e/ed25519 retired=s202611e",
		"day 39: pruned s202611e",
		"day 62: ed25519:generated:age s202701e/ed25519",
		"day 63: ed25519:activated s202701e/ed25519 retired=s202612e",
	}
	if !slices.Equal(log, want) {
		t.Errorf("life cycle\n got %q\nwant %q", log, want)
	}
}

// Two rotations racing on one store make one pending key, not two.
func TestRotateRace(t *testing.T) {
	dir := openTest(t).Dir()
	const workers = 6
	var wg sync.WaitGroup
	steps := make([]Step, workers)
	for i := range workers {
		wg.Go(func() {
			s, err := Open(dir)
			if err != nil {
				t.Error(err)
				return
			}
			s.newSigner = fastSigner
			opts := RotateOptions{Algorithm: Ed25519, RotateAfter: time.Hour, Lookup: fakeDNS(t, s, nil)}
			rs, err := s.Rotate(context.Background(), testDomain, opts, t0)
			if err != nil {
				t.Error(err)
				return
			}
			steps[i] = rs[0].Step
		})
	}
	wg.Wait()
	s, _ := Open(dir)
	keys, errs := s.List()
	if len(errs) > 0 || len(keys) != 1 || keys[0].State != Pending {
		t.Fatalf("after racing rotations: %v %v, want one pending key", selectorsOf(keys), errs)
	}
	generated := 0
	for _, st := range steps {
		switch st {
		case StepGenerated:
			generated++
		case StepWaiting:
		default:
			t.Errorf("step %q", st)
		}
	}
	if generated != 1 {
		t.Errorf("%d rotations generated a key, want 1 (steps %v)", generated, steps)
	}
}

func TestRotateInvalid(t *testing.T) {
	s := openTest(t)
	lookup := fakeDNS(t, s, nil)
	cases := []struct {
		domain string
		opts   RotateOptions
	}{
		{"bad_domain", RotateOptions{RotateAfter: time.Hour, Lookup: lookup}},
		{testDomain, RotateOptions{RotateAfter: 0, Lookup: lookup}},
		{testDomain, RotateOptions{Algorithm: "dsa", RotateAfter: time.Hour, Lookup: lookup}},
	}
	for _, tc := range cases {
		if _, err := s.Rotate(context.Background(), tc.domain, tc.opts, t0); !errors.Is(err, ErrInvalid) {
			t.Errorf("Rotate(%q, %+v) = %v, want ErrInvalid", tc.domain, tc.opts, err)
		}
	}
	if keys, _ := s.List(); len(keys) != 0 {
		t.Errorf("invalid rotations made keys: %v", selectorsOf(keys))
	}
}
