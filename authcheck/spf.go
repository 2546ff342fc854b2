package authcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"blitiri.com.ar/go/spf"

	"dkimrelay/resolver"
)

// SPFResult is the outcome of one check_host evaluation (RFC 7208 section
// 4) for one address and one MAIL FROM domain.
type SPFResult struct {
	Domain string
	IP     net.IP
	Result spf.Result
	// Err is the evaluator's detail: for a match, which kind of term
	// matched (spf.ErrMatchedIP, ...); for an error result, why.
	Err error
	// Cached says the result came from the cache, not from DNS.
	Cached bool
}

// Reason says in words why the result is what it is; for a permerror it
// names what to fix in the record.
func (r SPFResult) Reason() string {
	return spfReason(r.Result, r.Err)
}

// Mechanism is the term that authorizes r.IP, to add to the domain's
// record: "ip4:192.0.2.1" or "ip6:2001:db8::1".
func (r SPFResult) Mechanism() string { return Mechanism(r.IP) }

// Mechanism is the SPF term that authorizes exactly ip (RFC 7208 section 5.6).
func Mechanism(ip net.IP) string {
	if ip.To4() != nil {
		return "ip4:" + ip.String()
	}
	return "ip6:" + ip.String()
}

// spfReasons words the evaluator's errors for an administrator, citing the
// rule each one breaks.
var spfReasons = []struct {
	err  error
	text string
}{
	{spf.ErrLookupLimitReached, "evaluating the record takes more than 10 DNS lookups (RFC 7208 section 4.6.4); flatten include: chains or replace a and mx terms by ip4:/ip6: terms"},
	{spf.ErrVoidLookupLimitReached, "more than 2 of the record's DNS lookups find nothing (RFC 7208 section 4.6.4); remove the terms that name domains without records"},
	{spf.ErrMultipleRecords, "the domain publishes more than one SPF record (RFC 7208 section 3.2); merge them into one"},
	{spf.ErrUnknownField, "the record contains a term that is not SPF syntax (RFC 7208 section 12)"},
	{spf.ErrInvalidIP, "an ip4: or ip6: term holds no valid address"},
	{spf.ErrInvalidMask, "a prefix length (/N) is invalid"},
	{spf.ErrInvalidMacro, "a macro (%{...}) is malformed (RFC 7208 section 7)"},
	{spf.ErrInvalidDomain, "a domain in the record is malformed, or it has more than one redirect="},
	{spf.ErrTooManyMXRecords, "an mx term names more than 10 mail servers (RFC 7208 section 4.6.4)"},
	{spf.ErrMatchedAll, `matched "all"`},
	{spf.ErrMatchedIP, "matched an ip4:/ip6: term"},
	{spf.ErrMatchedA, "matched an a term"},
	{spf.ErrMatchedMX, "matched an mx term"},
	{spf.ErrMatchedPTR, "matched a ptr term"},
	{spf.ErrMatchedExists, "matched an exists: term"},
}

func spfReason(res spf.Result, err error) string {
	if errors.Is(err, spf.ErrNoResult) {
		if res == spf.PermError {
			// RFC 7208 sections 5.2 and 6.1: an include: or redirect=
			// target without a record is an error of the including one.
			return "an include: or redirect= names a domain that publishes no SPF record"
		}
		return "the domain publishes no SPF record"
	}
	if errors.Is(err, ErrSPFSyntax) {
		return err.Error()
	}
	for _, r := range spfReasons {
		if errors.Is(err, r.err) {
			return r.text
		}
	}
	if err != nil {
		return DNSDetail(err)
	}
	if res == spf.Neutral {
		return "no term matched"
	}
	return ""
}

// SPF evaluates SPF records through the relay's resolver and keeps the
// results per domain and address for as long as the records they came from
// may be trusted (their smallest TTL, between MinCacheTTL and MaxCacheTTL).
// Temporary errors are never kept. It is safe for concurrent use.
type SPF struct {
	res      *resolver.Resolver
	hostname string
	cache    *cache[cachedSPF]
}

type cachedSPF struct {
	result spf.Result
	err    error
	// perSender marks a record that expands the sender's local part
	// (%{l} or %{s}): its results are kept per sender, not per domain.
	perSender bool
}

// NewSPF returns an SPF evaluator. hostname is the relay's HELO name, which
// the %{h} macro expands to. now is the clock for the cache (time.Now when
// nil).
func NewSPF(res *resolver.Resolver, hostname string, now func() time.Time) *SPF {
	if now == nil {
		now = time.Now
	}
	return &SPF{res: res, hostname: hostname, cache: newCache[cachedSPF](now)}
}

// Check evaluates check_host(ip, domain of sender, sender).
func (s *SPF) Check(ctx context.Context, ip net.IP, sender string) SPFResult {
	local, domain := splitAddress(sender)
	out := SPFResult{Domain: domain, IP: ip}
	key := domain + " " + ip.String()
	c, ok := s.cache.get(key)
	if ok && c.perSender {
		c, ok = s.cache.get(key + " " + local)
	}
	if ok {
		out.Result, out.Err, out.Cached = c.result, c.err, true
		return out
	}

	w := &recordWatch{Tracker: s.res.Track()}
	out.Result, out.Err = w.evaluate(ctx, s.hostname, ip, sender)
	if out.Result == spf.TempError || ctx.Err() != nil {
		return out
	}
	ttl := ttlOf(w.TTL())
	if w.senderMacros.Load() {
		s.cache.put(key, cachedSPF{perSender: true}, ttl)
		key += " " + local
	}
	s.cache.put(key, cachedSPF{result: out.Result, err: out.Err}, ttl)
	return out
}

// Evaluate evaluates check_host once, without the cache, for the
// self-check.
func Evaluate(ctx context.Context, res *resolver.Resolver, hostname string, ip net.IP, sender string) SPFResult {
	_, domain := splitAddress(sender)
	w := &recordWatch{Tracker: res.Track()}
	r, err := w.evaluate(ctx, hostname, ip, sender)
	return SPFResult{Domain: domain, IP: ip, Result: r, Err: err}
}

// splitAddress splits local@domain at the last @ and lower-cases the
// domain, which DNS compares without case.
func splitAddress(addr string) (local, domain string) {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return "", strings.ToLower(addr)
	}
	return addr[:i], strings.ToLower(addr[i+1:])
}

// senderMacro matches the macros that expand the sender (RFC 7208 section
// 7.2: s is the whole address, l its local part); the others depend only
// on the domain, the address checked or the relay's HELO name.
var senderMacro = regexp.MustCompile(`%\{[slSL]`)

// recordWatch sees every SPF record an evaluation fetches. It notices
// records whose evaluation depends on the sender, and records with a
// syntax error anywhere: RFC 7208 section 4.6 makes those a permerror
// before any term is evaluated, while the evaluator stops reading at the
// first term that matches.
type recordWatch struct {
	*resolver.Tracker
	senderMacros atomic.Bool

	mu        sync.Mutex
	syntaxErr error
}

func (w *recordWatch) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txts, err := w.Tracker.LookupTXT(ctx, name)
	var spfs []string
	for _, t := range txts {
		if IsSPFRecord(t) {
			spfs = append(spfs, t)
		}
	}
	if len(spfs) == 1 {
		// Several records are a permerror of their own (section 4.5).
		if senderMacro.MatchString(spfs[0]) {
			w.senderMacros.Store(true)
		}
		if _, perr := ParseSPF(spfs[0]); perr != nil {
			w.mu.Lock()
			if w.syntaxErr == nil {
				w.syntaxErr = fmt.Errorf("the SPF record of %s has %w", strings.TrimSuffix(name, "."), perr)
			}
			w.mu.Unlock()
		}
	}
	return txts, err
}

func (w *recordWatch) evaluate(ctx context.Context, hostname string, ip net.IP, sender string) (spf.Result, error) {
	r, err := spf.CheckHostWithSender(ip, hostname, sender, spf.WithResolver(w), spf.WithContext(ctx))
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.syntaxErr != nil {
		// A record with a syntax error was reached: its check_host()
		// is a permerror, which include: and redirect= pass up
		// (sections 5.2 and 6.1).
		return spf.PermError, w.syntaxErr
	}
	return r, err
}

// DNSDetail words a lookup error without the resolver's address: "DNS
// lookup of NAME failed: server misbehaving (SERVFAIL)".
func DNSDetail(err error) string {
	var de *net.DNSError
	if errors.As(err, &de) {
		return fmt.Sprintf("DNS lookup of %s failed: %s", de.Name, de.Err)
	}
	return err.Error()
}
