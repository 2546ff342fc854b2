package authcheck

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"

	"dkimrelay/resolver"
)

// Errors of DMARC policy discovery (RFC 7489 section 6.6.3).
var (
	// ErrNoDMARC: neither the From: domain nor its organizational domain
	// publishes a DMARC record; receivers apply no DMARC policy.
	ErrNoDMARC = errors.New("no DMARC record")
	// ErrDMARCTemporary: the lookup failed for a reason that may pass.
	ErrDMARCTemporary = errors.New("DMARC record lookup failed temporarily")
	// ErrDMARCInvalid: the record does not parse; receivers ignore it as
	// if there were none.
	ErrDMARCInvalid = errors.New("DMARC record is invalid")
)

// dmarcError is an error of LookupDMARC: its text stands on its own, and
// errors.Is finds its kind.
type dmarcError struct {
	kind error
	msg  string
}

func (e *dmarcError) Error() string        { return e.msg }
func (e *dmarcError) Is(target error) bool { return target == e.kind }

// DMARCPolicy is a domain's DMARC record and where it was found.
type DMARCPolicy struct {
	Record *dmarc.Record
	// At is the name the record was found at: _dmarc. and the From:
	// domain, or _dmarc. and its organizational domain.
	At string
}

// TXTLookup looks up TXT records, as net.Resolver.LookupTXT does.
type TXTLookup func(ctx context.Context, name string) ([]string, error)

// LookupDMARC finds the DMARC record governing mail from domain: at
// _dmarc.domain, else at _dmarc of its organizational domain (RFC 7489
// section 6.6.3). The error wraps ErrNoDMARC, ErrDMARCTemporary or
// ErrDMARCInvalid.
func LookupDMARC(ctx context.Context, lookup TXTLookup, domain string) (*DMARCPolicy, error) {
	domain = Normalize(domain)
	names := []string{domain}
	if org := OrgDomain(domain); org != domain {
		names = append(names, org)
	}
	for _, name := range names {
		// go-msgauth's lookup function takes no context: the closure
		// carries it, and keeps the DNS error it words away.
		var dnsErr error
		rec, err := dmarc.LookupWithOptions(name, &dmarc.LookupOptions{
			LookupTXT: func(n string) ([]string, error) {
				txts, err := lookup(ctx, n)
				dnsErr = err
				return txts, err
			},
		})
		switch {
		case err == nil:
			return &DMARCPolicy{Record: rec, At: "_dmarc." + name}, nil
		case errors.Is(err, dmarc.ErrNoPolicy):
			continue
		case dmarc.IsTempFail(err) && dnsErr != nil:
			return nil, &dmarcError{ErrDMARCTemporary, DNSDetail(dnsErr) + ", try again later"}
		case dmarc.IsTempFail(err):
			return nil, &dmarcError{ErrDMARCTemporary, err.Error()}
		default:
			return nil, &dmarcError{ErrDMARCInvalid, fmt.Sprintf("the DMARC record at _dmarc.%s is invalid (%s), so receivers ignore it", name, strings.TrimPrefix(err.Error(), "dmarc: "))}
		}
	}
	return nil, &dmarcError{ErrNoDMARC, "no DMARC record at _dmarc." + strings.Join(names, " nor at _dmarc.")}
}

// Normalize returns domain as DNS compares it: lower case, no final dot.
// Internationalized names are compared as written; the relay signs only
// for the A-label form its keys are stored under.
func Normalize(domain string) string {
	return strings.ToLower(strings.TrimSuffix(domain, "."))
}

// OrgDomain returns the organizational domain of domain (RFC 7489 section
// 3.2): the public suffix, by the public suffix list, plus one label. A
// domain that is itself a public suffix is its own organizational domain.
func OrgDomain(domain string) string {
	d := Normalize(domain)
	if org, err := publicsuffix.EffectiveTLDPlusOne(d); err == nil {
		return org
	}
	return d
}

// Aligned reports whether two domains are in alignment (RFC 7489 section
// 3.1): identical under strict mode, of the same organizational domain
// under relaxed mode.
func Aligned(a, b string, mode dmarc.AlignmentMode) bool {
	a, b = Normalize(a), Normalize(b)
	if mode == dmarc.AlignmentStrict {
		return a == b
	}
	return OrgDomain(a) == OrgDomain(b)
}

// Alignment is how a message's domains stand against the From: domain's
// DMARC record.
type Alignment struct {
	FromDomain     string
	MailFromDomain string
	DKIMDomains    []string
	// Policy is nil when the domain publishes no DMARC record; the modes
	// are then relaxed, the default (RFC 7489 section 6.3).
	Policy      *DMARCPolicy
	DKIMAligned bool
	SPFAligned  bool
}

// CheckAlignment compares the From: domain with the DKIM signing domains
// (d=) and the MAIL FROM domain under policy's modes (relaxed when policy
// is nil).
func CheckAlignment(policy *DMARCPolicy, fromDomain, mailFromDomain string, dkimDomains []string) Alignment {
	adkim, aspf := dmarc.AlignmentMode(dmarc.AlignmentRelaxed), dmarc.AlignmentMode(dmarc.AlignmentRelaxed)
	if policy != nil {
		adkim, aspf = policy.Record.DKIMAlignment, policy.Record.SPFAlignment
	}
	a := Alignment{FromDomain: Normalize(fromDomain), MailFromDomain: Normalize(mailFromDomain), DKIMDomains: dkimDomains, Policy: policy}
	for _, d := range dkimDomains {
		if Aligned(d, fromDomain, adkim) {
			a.DKIMAligned = true
		}
	}
	a.SPFAligned = Aligned(mailFromDomain, fromDomain, aspf)
	return a
}

// Problems says, one sentence each, what does not align and how to fix
// it; none when everything aligns.
func (a Alignment) Problems() []string {
	where, adkim, aspf := "DMARC's default", "adkim=r", "aspf=r"
	strictDKIM, strictSPF := false, false
	if a.Policy != nil {
		where = "the DMARC record at " + a.Policy.At
		strictDKIM = a.Policy.Record.DKIMAlignment == dmarc.AlignmentStrict
		strictSPF = a.Policy.Record.SPFAlignment == dmarc.AlignmentStrict
		if strictDKIM {
			adkim = "adkim=s"
		}
		if strictSPF {
			aspf = "aspf=s"
		}
	}
	var out []string
	if !a.DKIMAligned {
		signer := "no DKIM signature would be made"
		if len(a.DKIMDomains) > 0 {
			signer = "the DKIM signature would be made by d=" + strings.Join(a.DKIMDomains, ", d=")
		}
		out = append(out, fmt.Sprintf("%s, which does not align with the From: domain %s under %s (%s): %s",
			signer, a.FromDomain, where, adkim, alignHint(a.FromDomain, strictDKIM, "sign with a key of")))
	}
	if !a.SPFAligned {
		out = append(out, fmt.Sprintf("the MAIL FROM domain %s does not align with the From: domain %s under %s (%s): %s",
			a.MailFromDomain, a.FromDomain, where, aspf, alignHint(a.FromDomain, strictSPF, "use a MAIL FROM address in")))
	}
	return out
}

func alignHint(from string, strict bool, action string) string {
	if strict {
		return fmt.Sprintf("strict alignment needs the same domain, so %s %s itself", action, from)
	}
	return fmt.Sprintf("relaxed alignment needs the same organizational domain, so %s %s or a domain under %s", action, from, OrgDomain(from))
}

// DMARC looks up DMARC records through the relay's resolver and keeps them
// as long as their TTL allows (between MinCacheTTL and MaxCacheTTL); an
// absent or invalid record is kept for MinCacheTTL, a temporary failure
// not at all. It is safe for concurrent use.
type DMARC struct {
	res   *resolver.Resolver
	cache *cache[cachedDMARC]
}

type cachedDMARC struct {
	policy *DMARCPolicy
	err    error
}

// NewDMARC returns a DMARC record finder; now is the cache's clock
// (time.Now when nil).
func NewDMARC(res *resolver.Resolver, now func() time.Time) *DMARC {
	if now == nil {
		now = time.Now
	}
	return &DMARC{res: res, cache: newCache[cachedDMARC](now)}
}

// Lookup is LookupDMARC, cached.
func (d *DMARC) Lookup(ctx context.Context, domain string) (*DMARCPolicy, error) {
	key := Normalize(domain)
	if c, ok := d.cache.get(key); ok {
		return c.policy, c.err
	}
	tr := d.res.Track()
	p, err := LookupDMARC(ctx, tr.LookupTXT, domain)
	if errors.Is(err, ErrDMARCTemporary) || ctx.Err() != nil {
		return p, err
	}
	ttl := MinCacheTTL
	if err == nil {
		ttl = ttlOf(tr.TTL())
	}
	d.cache.put(key, cachedDMARC{p, err}, ttl)
	return p, err
}
