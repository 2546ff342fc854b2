// Package summary says what the stored DMARC and TLS reports mean for this
// relay: which sources send as its domains and whether they are its own
// egress addresses, which DKIM selectors receivers saw against the key
// store, and where inbound TLS failed.
package summary

import (
	"fmt"
	"net/netip"
	"time"
)

// Options select the reports and give what the relay knows about itself.
type Options struct {
	// Domain limits the summary to mail from this domain and its
	// sub-domains; empty means every domain.
	Domain string
	// Since is the start of the period; zero means every stored report.
	Since time.Time
	// Egress are the relay's egress addresses.
	Egress []netip.Addr
	// Keys are the key store's keys.
	Keys []Key
}

// Key is one DKIM key of the store, as far as the summary needs it.
type Key struct {
	Domain, Selector, State string
	// Retired is when the key stopped signing (zero unless retiring).
	Retired time.Time
}

// Summary is the result, also the stable form of `reports --json`.
type Summary struct {
	Domain string    `json:"domain,omitempty"`
	Since  time.Time `json:"since,omitzero"`
	// Egress are the relay's egress addresses the sources were compared
	// with.
	Egress    []string   `json:"egress_addresses"`
	DMARC     DMARC      `json:"dmarc"`
	Selectors []Selector `json:"dkim_selectors"`
	TLS       TLS        `json:"tls"`
}

// DMARC sums up the aggregate reports.
type DMARC struct {
	Reports   int       `json:"reports"`
	Reporters []string  `json:"reporters"`
	Begin     time.Time `json:"begin,omitzero"`
	End       time.Time `json:"end,omitzero"`
	Messages  int       `json:"messages"`
	// Counts are over all sources.
	Counts Counts `json:"counts"`
	// UnknownSources is how many sources are not egress addresses.
	UnknownSources int `json:"unknown_sources"`
	// Policies are the DMARC records the receivers found, each with the
	// reporters that found it: more than one for a domain means the
	// record changed during the period, or DNS answers differ.
	Policies []Policy `json:"policies"`
	// Sources are ordered: unknown sources, then the relay's own
	// addresses with failures, then the rest; within each, most
	// messages first.
	Sources []Source `json:"sources"`
}

// Policy is one published DMARC policy as receivers saw it (RFC 7489
// section 6.3), with the defaults filled in where a reporter left a value
// out.
type Policy struct {
	Domain    string   `json:"domain"`
	P         string   `json:"p"`
	SP        string   `json:"sp,omitempty"`
	Pct       int      `json:"pct,omitempty"`
	ADKIM     string   `json:"adkim,omitempty"`
	ASPF      string   `json:"aspf,omitempty"`
	Reporters []string `json:"reporters"`
}

func (p Policy) String() string {
	s := p.Domain + ": p=" + p.P
	if p.SP != "" {
		s += " sp=" + p.SP
	}
	if p.Pct != 0 {
		s += fmt.Sprintf(" pct=%d", p.Pct)
	}
	if p.ADKIM != "" {
		s += " adkim=" + p.ADKIM
	}
	if p.ASPF != "" {
		s += " aspf=" + p.ASPF
	}
	return s
}

// Counts are message counts per result.
type Counts struct {
	// DMARC is "pass" or "fail" (RFC 7489 section 4.2: either aligned
	// result passed).
	DMARC map[string]int `json:"dmarc"`
	// SPF and DKIM are the aligned results the receiver evaluated.
	SPF  map[string]int `json:"spf"`
	DKIM map[string]int `json:"dkim"`
	// Disposition is what the receiver did: none, quarantine, reject.
	Disposition map[string]int `json:"disposition"`
}

func newCounts() Counts {
	return Counts{DMARC: map[string]int{}, SPF: map[string]int{}, DKIM: map[string]int{}, Disposition: map[string]int{}}
}

// Source classes, in the order the summary lists them.
const (
	// Unknown sources are not among the relay's egress addresses:
	// someone else sending as the domain, or a service of the domain's
	// owner that SPF and DKIM do not cover yet.
	Unknown = "unknown"
	// OwnFailing are egress addresses for which SPF or DKIM failed: a
	// key or SPF record to fix.
	OwnFailing = "own_failing"
	// Own are egress addresses that passed.
	Own = "own"
)

// Source is everything the reports say about one sending address.
type Source struct {
	IP     string `json:"ip"`
	Egress bool   `json:"egress"`
	Class  string `json:"class"`
	// Finding is what the results most likely mean (the Source...
	// constants); empty for the relay's own passing addresses.
	Finding    string   `json:"finding,omitempty"`
	Messages   int      `json:"messages"`
	Counts     Counts   `json:"counts"`
	HeaderFrom []string `json:"header_from"`
	Reporters  []string `json:"reporters"`
}

// Source findings: what a source's results most likely mean, and so what
// to do (docs/reports.md, "Sources").
const (
	// SourceForged: an unknown source failing DMARC for every message:
	// someone else sending as the domain, or a service of the owner's
	// covered by neither SPF nor DKIM.
	SourceForged = "dmarc_fails"
	// SourceDKIMOnly: an unknown source whose mail carries the domain's
	// DKIM signature but fails SPF: a service of the owner's missing
	// from SPF.
	SourceDKIMOnly = "not_in_spf"
	// SourceSPFOnly: an unknown source SPF authorizes that does not sign
	// with the domain: DKIM to set up at that service.
	SourceSPFOnly = "not_signing"
	// SourceAuthorized: an unknown source passing SPF and DKIM: a service
	// of the owner's, or this relay behind an address missing from
	// delivery.egress_ips.
	SourceAuthorized = "authorized_elsewhere"
	// SourceSPFFails: the relay's own address failing SPF everywhere:
	// the SPF record does not list it.
	SourceSPFFails = "spf_fails"
	// SourceDKIMFails: the relay's own address failing DKIM everywhere:
	// the published key is not the one signing.
	SourceDKIMFails = "dkim_fails"
	// SourceSomeFail: the relay's own address with some failures among
	// passes: forwarding, mailing lists, or one receiver's view.
	SourceSomeFail = "some_fail"
)

// Selector findings.
const (
	// SelectorOK is a selector of the store seen as expected.
	SelectorOK = "ok"
	// SelectorRetired is a retiring key's selector seen in reports
	// that start after the key stopped signing: something still signs
	// with the old key.
	SelectorRetired = "retired_key_still_seen"
	// SelectorUnknown is a selector the key store does not have: a key
	// pruned long ago, another service signing for the domain, or a
	// forgery.
	SelectorUnknown = "not_in_store"
)

// Selector is one DKIM selector seen in signatures for the domain.
type Selector struct {
	Domain   string         `json:"domain"`
	Selector string         `json:"selector"`
	Messages int            `json:"messages"`
	Results  map[string]int `json:"results"`
	Begin    time.Time      `json:"begin"`
	End      time.Time      `json:"end"`
	// State is the key's state in the store, or "none".
	State   string   `json:"state"`
	Finding string   `json:"finding"`
	Sources []string `json:"sources"`
}

// TLS sums up the TLS reports about the domain's inbound mail.
type TLS struct {
	Reports   int         `json:"reports"`
	Reporters []string    `json:"reporters"`
	Policies  []TLSPolicy `json:"policies"`
	// Failures are ordered by failed sessions, most first.
	Failures []TLSFailure `json:"failures"`
}

// TLSPolicy is the sessions counted under one policy domain and type.
type TLSPolicy struct {
	Domain     string `json:"domain"`
	Type       string `json:"type"`
	Successful int    `json:"successful_sessions"`
	Failed     int    `json:"failed_sessions"`
}

// TLSFailure is the failed sessions to one MX of one result type.
type TLSFailure struct {
	Domain     string   `json:"domain"`
	MX         string   `json:"mx"`
	ResultType string   `json:"result_type"`
	Sessions   int      `json:"sessions"`
	Reporters  []string `json:"reporters"`
	// Details are the distinct failure reason codes and additional
	// information the reporters gave.
	Details []string `json:"details,omitempty"`
}
