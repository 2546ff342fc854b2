package keys

import (
	"encoding/json"
	"fmt"
	"time"
)

// metadata is the .json file beside each private key. Dates are RFC 3339 in
// UTC; unknown fields are ignored so that a newer dkimrelay may add some.
type metadata struct {
	Domain    string     `json:"domain"`
	Selector  string     `json:"selector"`
	Algorithm Algorithm  `json:"algorithm"`
	State     State      `json:"state"`
	Created   time.Time  `json:"created"`
	Activated *time.Time `json:"activated,omitempty"`
	Retired   *time.Time `json:"retired,omitempty"`
}

func encodeMetadata(k *Key) ([]byte, error) {
	m := metadata{
		Domain:    k.Domain,
		Selector:  k.Selector,
		Algorithm: k.Algorithm,
		State:     k.State,
		Created:   k.Created.UTC(),
	}
	if !k.Activated.IsZero() {
		t := k.Activated.UTC()
		m.Activated = &t
	}
	if !k.Retired.IsZero() {
		t := k.Retired.UTC()
		m.Retired = &t
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// decodeMetadata parses a .json file found at domain/selector and checks it
// describes that key. The returned problem is a phrase for a DamageError.
func decodeMetadata(b []byte, domain, selector string) (*Key, error) {
	var m metadata
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("is not valid JSON (%v)", err)
	}
	switch {
	case m.Domain != domain || m.Selector != selector:
		return nil, fmt.Errorf("describes key %q for %q, not %q for %q", m.Selector, m.Domain, selector, domain)
	case !m.Algorithm.valid():
		return nil, fmt.Errorf("has unknown algorithm %q", m.Algorithm)
	case !m.State.valid():
		return nil, fmt.Errorf("has unknown state %q", m.State)
	case m.Created.IsZero():
		return nil, fmt.Errorf("has no creation date")
	case m.State != Pending && m.Activated == nil:
		return nil, fmt.Errorf("says %s but has no activation date", m.State)
	case m.State == Retiring && m.Retired == nil:
		return nil, fmt.Errorf("says retiring but has no retirement date")
	}
	k := &Key{
		Domain:    m.Domain,
		Selector:  m.Selector,
		Algorithm: m.Algorithm,
		State:     m.State,
		Created:   m.Created,
	}
	if m.Activated != nil {
		k.Activated = *m.Activated
	}
	if m.Retired != nil {
		k.Retired = *m.Retired
	}
	return k, nil
}
