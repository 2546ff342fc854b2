package queue

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewIDs(t *testing.T) {
	seen := map[string]bool{}
	var ids []string
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 2000 {
		id, err := newID(now.Add(time.Duration(i/10) * time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if !ValidID(id) {
			t.Fatalf("newID gave %q, which ValidID rejects", id)
		}
		if seen[id] {
			t.Fatalf("duplicate ID %s", id)
		}
		seen[id] = true
		ids = append(ids, id)
	}
	// Time-ordered across milliseconds.
	for i := 10; i < len(ids); i += 10 {
		if ids[i-10] >= ids[i] {
			t.Errorf("ID %s of a later millisecond sorts before %s", ids[i], ids[i-10])
		}
	}
}

func TestEncodeID(t *testing.T) {
	tests := []struct {
		in   [12]byte
		want string
	}{
		{[12]byte{}, "00000000000000000000"},
		{[12]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "1ZZZZZZZZZZZZZZZZZZZ"},
		{[12]byte{11: 1}, "00000000000000000001"},
		{[12]byte{11: 32}, "00000000000000000010"},
		{[12]byte{0: 0x80}, "10000000000000000000"},
	}
	for _, tt := range tests {
		if got := encodeID(tt.in); got != tt.want {
			t.Errorf("encodeID(%x) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"01JNFX2V8Q3ZK7M4W9PA", true},
		{"1ZZZZZZZZZZZZZZZZZZZ", true},
		{"", false},
		{"01JNFX2V8Q3ZK7M4W9P", false},   // short
		{"01JNFX2V8Q3ZK7M4W9PAA", false}, // long
		{"01jnfx2v8q3zk7m4w9pa", false},  // lower case
		{"2ZZZZZZZZZZZZZZZZZZZ", false},  // beyond 96 bits
		{"01JNFX2V8Q3ZK7M4W9PI", false},  // I is not Crockford
		{"01JNFX2V8Q3ZK7M4W9PU", false},
		{"../../../../etc/pass", false},
		{"01JNFX2V8Q3ZK7M4W9/A", false},
		{"01JNFX2V8Q3ZK7M4W9 A", false},
		{"01JNFX2V8Q3ZK7M4W9.A", false},
		{strings.Repeat("\x00", 20), false},
	}
	for _, tt := range tests {
		if got := ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
	// IDs sort by time only if the alphabet is in byte order.
	if !slices.IsSorted([]byte(crockford)) {
		t.Error("the ID alphabet is not sorted")
	}
}
