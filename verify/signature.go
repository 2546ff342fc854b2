package verify

import (
	"encoding/base64"
	"strings"
)

// sigTags are the tags of one DKIM-Signature field (RFC 6376 section
// 3.5), values with folding white space removed.
type sigTags map[string]string

func parseSigTags(value string) sigTags {
	tags := sigTags{}
	for _, part := range strings.Split(value, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		tags[strings.TrimSpace(k)] = strings.Join(strings.Fields(v), "")
	}
	return tags
}

// signedNames is the h= list, lower-cased.
func (t sigTags) signedNames() []string {
	var out []string
	for _, n := range strings.Split(t["h"], ":") {
		if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// signature is the b= value decoded; nil when it does not decode.
func (t sigTags) signature() []byte {
	b, err := base64.StdEncoding.DecodeString(t["b"])
	if err != nil {
		return nil
	}
	return b
}

// keyName is where the signature's key is published (RFC 6376 section
// 3.6.2.1).
func (t sigTags) keyName() string {
	return t["s"] + "._domainkey." + t["d"]
}
