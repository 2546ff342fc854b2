package keys

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"dkimrelay/dkim"
)

// Publication is what DNS says about a key's record.
type Publication string

const (
	// Published: the record is there and holds this key.
	Published Publication = "published"
	// Different: a record is there with another key.
	Different Publication = "different"
	// Revoked: the record is there with an empty p= (RFC 6376 section 3.6.1).
	Revoked Publication = "revoked"
	// Missing: no record at the name (NXDOMAIN, or no DKIM TXT record).
	Missing Publication = "missing"
	// DNSError: the lookup failed for a reason that may pass (SERVFAIL,
	// timeout); try again later.
	DNSError Publication = "dns-error"
)

// TXTLookup looks up the TXT records of a name, each record's strings
// joined, as net.Resolver.LookupTXT does; a *net.DNSError with IsNotFound
// means there is none.
type TXTLookup func(ctx context.Context, name string) ([]string, error)

// CheckResult is the outcome of CheckPublished, with a sentence for people.
type CheckResult struct {
	Key    *Key
	State  Publication
	Detail string
}

// CheckPublished looks up the key's record at SELECTOR._domainkey.DOMAIN
// and compares the published public key with the key's own.
func CheckPublished(ctx context.Context, lookup TXTLookup, k *Key) CheckResult {
	name := k.RecordName()
	txts, err := lookup(ctx, name)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return CheckResult{k, Missing, fmt.Sprintf("no TXT record at %s: publish the record from `dkimrelay keys dns --domain %s --selector %s`", name, k.Domain, k.Selector)}
		}
		return CheckResult{k, DNSError, fmt.Sprintf("looking up %s failed (%v): try again later", name, err)}
	}
	var found []dkim.Record
	var problems []string
	for _, t := range txts {
		// RFC 6376 section 3.6.2.2: strings are already joined; a record
		// that does not parse as DKIM (some other TXT at the name) is not
		// the key record.
		rec, err := dkim.ParseRecord(t)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		found = append(found, rec)
	}
	if len(found) == 0 {
		if len(problems) > 0 {
			return CheckResult{k, Different, fmt.Sprintf("the TXT record at %s is not a usable DKIM record (%s): replace it with the one from `dkimrelay keys dns`", name, strings.Join(problems, "; "))}
		}
		return CheckResult{k, Missing, fmt.Sprintf("no DKIM record at %s: publish the record from `dkimrelay keys dns --domain %s --selector %s`", name, k.Domain, k.Selector)}
	}
	if len(found) > 1 {
		// RFC 6376 section 3.6.2.2 leaves several records undefined;
		// verifiers may pick any, so it must be fixed.
		return CheckResult{k, Different, fmt.Sprintf("%d DKIM records at %s: keep only the one from `dkimrelay keys dns`", len(found), name)}
	}
	rec := found[0]
	if rec.Revoked() {
		return CheckResult{k, Revoked, fmt.Sprintf("the record at %s is revoked (empty p=)", name)}
	}
	if !rec.Matches(k.Public()) {
		return CheckResult{k, Different, fmt.Sprintf("the record at %s holds a different public key: replace it with the one from `dkimrelay keys dns --domain %s --selector %s`", name, k.Domain, k.Selector)}
	}
	return CheckResult{k, Published, fmt.Sprintf("%s publishes this key", name)}
}
