package mtasts

import (
	"errors"
	"fmt"
	"strings"
)

// errNoRecord: the domain publishes no usable MTA-STS record, so it has no
// policy (RFC 8461 section 3.1).
var errNoRecord = errors.New("no MTA-STS record")

// recordID picks the policy id from the TXT records at _mta-sts.DOMAIN
// (RFC 8461 section 3.1): records not starting with "v=STSv1" are
// ignored; anything but exactly one remaining, well-formed record means no
// policy.
func recordID(txts []string) (string, error) {
	var found []string
	for _, t := range txts {
		if strings.HasPrefix(t, "v=STSv1") {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return "", errNoRecord
	case 1:
	default:
		return "", fmt.Errorf("%w: %d records start with v=STSv1, want one", errNoRecord, len(found))
	}
	id := ""
	for i, field := range strings.Split(found[0], ";") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		key, value, ok := strings.Cut(field, "=")
		if !ok {
			return "", fmt.Errorf("%w: field %q is not key=value", errNoRecord, truncate(field))
		}
		switch {
		case i == 0 && (key != "v" || value != "STSv1"):
			return "", fmt.Errorf("%w: it must start with v=STSv1", errNoRecord)
		case key == "id":
			if !validID(value) {
				return "", fmt.Errorf("%w: id %q is not 1 to 32 letters and digits", errNoRecord, truncate(value))
			}
			id = value
		}
	}
	if id == "" {
		return "", fmt.Errorf("%w: the record has no id", errNoRecord)
	}
	return id, nil
}

func validID(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
