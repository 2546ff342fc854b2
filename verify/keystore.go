package verify

import (
	"context"
	"net"
	"strings"

	"dkimrelay/authcheck"
	"dkimrelay/keys"
)

// StoreLookup answers DKIM key questions from a relay's own keys, in
// whatever state, with the records it would publish: for a message signed
// for a domain whose records are not in DNS, like the try-out relay's
// reserved dkimrelay.test. Any other name is answered "no such name".
func StoreLookup(list []*keys.Key) authcheck.TXTLookup {
	records := map[string][]string{}
	for _, k := range list {
		if v, err := k.RecordValue(); err == nil {
			name := strings.ToLower(k.RecordName())
			records[name] = append(records[name], v)
		}
	}
	return func(_ context.Context, name string) ([]string, error) {
		if v, ok := records[strings.ToLower(strings.TrimSuffix(name, "."))]; ok {
			return v, nil
		}
		return nil, &net.DNSError{Err: "no such host (not among this relay's keys)", Name: name, IsNotFound: true}
	}
}
