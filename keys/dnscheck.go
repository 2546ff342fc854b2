package keys

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

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
	Key   *Key
	State Publication
	// Detail is Problem and Fix in one sentence.
	Detail string
	// Problem says what DNS serves, Fix what to do about it (empty when
	// the key is published).
	Problem, Fix string
}

func result(k *Key, state Publication, problem, fix string) CheckResult {
	detail := problem
	if fix != "" {
		detail += ": " + fix
	}
	return CheckResult{Key: k, State: state, Detail: detail, Problem: problem, Fix: fix}
}

// CheckPublished looks up the key's record at SELECTOR._domainkey.DOMAIN
// and compares the published public key with the key's own.
func CheckPublished(ctx context.Context, lookup TXTLookup, k *Key) CheckResult {
	name := k.RecordName()
	dnsCmd := fmt.Sprintf("`dkimrelay keys dns --domain %s --selector %s`", k.Domain, k.Selector)
	publish := "publish the record from " + dnsCmd
	txts, err := lookup(ctx, name)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return result(k, Missing, "no TXT record at "+name, publish)
		}
		return result(k, DNSError, fmt.Sprintf("looking up %s failed (%v)", name, err), "try again later")
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
			return result(k, Different, fmt.Sprintf("the TXT record at %s is not a usable DKIM record (%s)", name, strings.Join(problems, "; ")),
				"replace it with the one from "+dnsCmd)
		}
		return result(k, Missing, "no DKIM record at "+name, publish)
	}
	if len(found) > 1 {
		// RFC 6376 section 3.6.2.2 leaves several records undefined;
		// verifiers may pick any, so it must be fixed.
		return result(k, Different, fmt.Sprintf("%d DKIM records at %s", len(found), name), "keep only the one from "+dnsCmd)
	}
	rec := found[0]
	if rec.Revoked() {
		return result(k, Revoked, fmt.Sprintf("the record at %s is revoked (empty p=)", name), publish+" instead")
	}
	if !rec.Matches(k.Public()) {
		return result(k, Different, fmt.Sprintf("the record at %s holds a different public key", name),
			"replace it with the one from "+dnsCmd)
	}
	return result(k, Published, name+" publishes this key", "")
}

// CheckAll checks every key, all lookups at once so that one slow
// server delays the answer once, and returns the results in the keys'
// order.
func CheckAll(ctx context.Context, lookup TXTLookup, keys []*Key) []CheckResult {
	out := make([]CheckResult, len(keys))
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Go(func() { out[i] = CheckPublished(ctx, lookup, k) })
	}
	wg.Wait()
	return out
}
