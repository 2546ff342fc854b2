package delivery

import (
	"context"
	"net"
	"strconv"

	"github.com/miekg/dns"

	"dkimrelay/config"
	"dkimrelay/mtasts"
	"dkimrelay/relay/outcome"
	"dkimrelay/resolver"
)

// DANEResolver is the DNS DANE needs (RFC 7672 section 2.2): answers that
// say whether they were DNSSEC-validated; *resolver.Resolver satisfies it.
type DANEResolver interface {
	LookupMXSecure(ctx context.Context, name string) ([]*net.MX, bool, error)
	LookupIPSecure(ctx context.Context, host string) ([]net.IP, bool, error)
	LookupTLSA(ctx context.Context, port int, host string) ([]*dns.TLSA, bool, error)
}

// PolicyDANE is the tls_policy of a session held to TLSA records.
const PolicyDANE = "dane"

// hostSpec is the session to MX host h of domain and the addresses to try:
// DANE when the MX, address and TLSA answers are all validated (RFC 7672
// section 2.2; it takes precedence over MTA-STS), else the domain's
// MTA-STS policy pol, else opportunistic TLS. A host that cannot be used
// comes back with the outcome that says why.
func (t *txn) hostSpec(ctx context.Context, domain string, h hop, pol *mtasts.Policy) (*sessionSpec, []net.IP, *outcome.Outcome) {
	ips, secure, o := t.addresses(ctx, domain, h)
	if o != nil {
		return nil, nil, o
	}
	if t.msg.TLSOptional {
		// RFC 8689 section 5: "TLS-Required: No".
		spec, _ := t.mxSpec(domain, h.name, nil)
		spec.dane = "not looked up: the message says TLS-Required: No"
		return spec, ips, nil
	}
	dane, note, o := t.dane(ctx, h.name, secure)
	if o != nil {
		t.reportSession(&sessionSpec{hop: target{host: h.name}, policy: PolicyDANE, domain: domain}, o, "")
		return nil, nil, o
	}
	if dane != nil {
		spec := &sessionSpec{
			hop:    target{kind: config.ModeMX, host: h.name, port: t.d.mxPort},
			tls:    *dane,
			policy: PolicyDANE,
			why:    "required by the DNSSEC-signed TLSA records of " + h.name,
			dane:   note,
			domain: domain,
		}
		return spec, ips, nil
	}
	spec, o := t.mxSpec(domain, h.name, pol)
	if spec != nil {
		spec.dane = note
	}
	return spec, ips, o
}

// dane looks up host's TLSA records when its MX and address answers were
// validated. It returns the requirement they make (nil: DANE does not
// apply), a note saying what was found, or the outcome of a lookup that
// failed: a bogus or unanswered TLSA query makes the host unusable for now
// (RFC 7672 section 2.2).
func (t *txn) dane(ctx context.Context, host string, secure bool) (*TLSRequirement, string, *outcome.Outcome) {
	dr := t.d.cfg.DANEResolver
	switch {
	case dr == nil:
		return nil, "DANE off (delivery.dane = false)", nil
	case !secure:
		return nil, "DANE does not apply: the MX or address answers are not DNSSEC-validated", nil
	}
	owner := "_" + strconv.Itoa(t.d.cfg.Port) + "._tcp." + host
	records, secure, err := dr.LookupTLSA(ctx, t.d.cfg.Port, host)
	switch {
	case err != nil && resolver.IsNotFound(err) && secure:
		return nil, "no TLSA records at " + owner + " (validated denial)", nil
	case err != nil && resolver.IsNotFound(err):
		return nil, "no TLSA records at " + owner + " (not validated)", nil
	case err != nil:
		o := outcome.Local(outcome.Transient, "4.7.5", "TLSA lookup for "+owner+" failed: "+err.Error()+
			"; a bogus or unanswered DNSSEC lookup makes the host unusable for now (RFC 7672 section 2.2)")
		o.MX, o.TLSPolicy = host, PolicyDANE
		return nil, "", &o
	case !secure:
		return nil, "TLSA records at " + owner + " are not DNSSEC-validated: ignored", nil
	}
	usable := UsableTLSA(records)
	note := strconv.Itoa(len(records)) + " validated TLSA record(s) at " + owner + ", " + strconv.Itoa(len(usable)) + " usable"
	if len(usable) == 0 {
		// RFC 7672 section 3.1.3: TLS without authentication.
		return &TLSRequirement{Level: TLSEncrypt}, note, nil
	}
	// RFC 7672 section 3.2.3: the reference identifier of DANE-TA is
	// the MX host name (the TLSA base domain).
	return &TLSRequirement{Level: TLSVerifyTLSA, TLSA: usable, Names: []string{host}}, note, nil
}
