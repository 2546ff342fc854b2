package authcheck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"blitiri.com.ar/go/spf"

	"dkimrelay/config"
	"dkimrelay/events"
	"dkimrelay/resolver"
)

// SenderOptions configure a SenderPolicy.
type SenderOptions struct {
	// Policy is delivery.spf_policy.
	Policy config.SPFPolicy
	// EgressIPs and Mode are delivery.egress_ips and delivery.mode, from
	// which EgressIPs finds the addresses receivers see.
	EgressIPs []netip.Addr
	Mode      config.DeliveryMode
	// Hostname is the relay's HELO name (SPF's %{h} macro).
	Hostname string
	Resolver *resolver.Resolver
	Log      *slog.Logger
}

// SenderPolicy holds the sender checks that depend on DNS: SPF at MAIL
// FROM (RFC 7208) and DMARC alignment once the From: field is known (RFC
// 7489). Under the "reject" policy each refuses, before the message is
// accepted, what the receiver would reject, so the application can still
// report it; under "warn" it only logs. It is safe for concurrent use.
type SenderPolicy struct {
	policy config.SPFPolicy
	ips    []net.IP
	spf    *SPF
	dmarc  *DMARC
	log    *slog.Logger
}

// NewSenderPolicy returns the sender checks of o, logging the egress
// addresses it checks SPF for (and why there are none, when there are
// none).
func NewSenderPolicy(o SenderOptions) (*SenderPolicy, error) {
	p := &SenderPolicy{
		policy: o.Policy,
		spf:    NewSPF(o.Resolver, o.Hostname, nil),
		dmarc:  NewDMARC(o.Resolver, nil),
		log:    o.Log,
	}
	if p.policy == config.SPFOff {
		return p, nil
	}
	ips, note := EgressIPs(o.EgressIPs, o.Mode)
	p.ips = ips
	if note != "" {
		events.SPFNote{Detail: note, Warn: o.Mode == config.ModeMX}.Log(p.log)
	}
	addrs := make([]string, len(ips))
	for i, ip := range ips {
		addrs[i] = ip.String()
	}
	events.EgressAddrs{IPs: addrs, SPFPolicy: string(p.policy)}.Log(p.log)
	return p, nil
}

// CheckSender runs SPF's check_host for each egress address against the
// MAIL FROM domain, and logs each result.
func (p *SenderPolicy) CheckSender(ctx context.Context, from string) Verdict {
	if p.policy == config.SPFOff || len(p.ips) == 0 {
		return pass
	}
	for _, ip := range p.ips {
		r := p.spf.Check(ctx, ip, from)
		events.SPFCheck{Domain: r.Domain, IP: ip.String(), Result: string(r.Result),
			Detail: r.Reason(), Cached: r.Cached, Policy: string(p.policy)}.Log(p.log)
		if p.policy != config.SPFReject {
			continue
		}
		if v := spfVerdict(r); !v.Passed() {
			return v
		}
	}
	return pass
}

// spfVerdict is the verdict on a result under the "reject" policy. None
// and neutral pass: the receiver has nothing to reject on (RFC 7208
// sections 8.1 and 8.2).
func spfVerdict(r SPFResult) Verdict {
	switch r.Result {
	case spf.Fail, spf.SoftFail:
		return Verdict{Reject, fmt.Sprintf("SPF %s: %s is not authorized to send for %s; add %q to the SPF record of %s",
			r.Result, r.IP, r.Domain, r.Mechanism(), r.Domain)}
	case spf.TempError:
		return Verdict{TempFail, fmt.Sprintf("SPF check of %s failed temporarily (%s), try again later", r.Domain, r.Reason())}
	case spf.PermError:
		return Verdict{Reject, fmt.Sprintf("SPF permerror for %s: %s; `dkimrelay check --domain %s` shows how to fix it",
			r.Domain, r.Reason(), r.Domain)}
	}
	return pass
}

// CheckAlignment checks, once the From: domain is known, that it aligns
// (RFC 7489 section 3.1) with the domains the relay signs for, d=
// (dkimDomains), and with the MAIL FROM domain, under the modes of the
// From: domain's DMARC record, and logs the result. DMARC needs only one
// of the two to pass, but the relay asks for both: the SPF path keeps the
// message passing when a list or forwarder breaks its signature.
func (p *SenderPolicy) CheckAlignment(ctx context.Context, mailFrom, fromDomain string, dkimDomains []string) Verdict {
	if p.policy == config.SPFOff || len(dkimDomains) == 0 {
		// Without a key the message is refused for that, with a reply
		// that says so.
		return pass
	}
	mailFromDomain := mailFrom[strings.LastIndexByte(mailFrom, '@')+1:]
	policy, err := p.dmarc.Lookup(ctx, fromDomain)
	a := CheckAlignment(policy, fromDomain, mailFromDomain, dkimDomains)
	problems := a.Problems()
	ev := events.DMARCCheck{Domain: a.FromDomain, MailFromDomain: a.MailFromDomain, DKIMDomains: dkimDomains,
		DKIMAligned: a.DKIMAligned, SPFAligned: a.SPFAligned, Policy: string(p.policy)}
	switch {
	case errors.Is(err, ErrDMARCTemporary):
		ev.Result, ev.Detail = "temperror", err.Error()
		ev.Log(p.log)
		if p.policy == config.SPFReject {
			return Verdict{TempFail, fmt.Sprintf("DMARC record of %s could not be looked up: %v", a.FromDomain, err)}
		}
		return pass
	case err != nil:
		// No record, or one receivers ignore (RFC 7489 section 6.6.3):
		// no DMARC policy applies, so nothing would be rejected for it.
		detail := err.Error()
		if errors.Is(err, ErrNoDMARC) {
			org := OrgDomain(a.FromDomain)
			detail += fmt.Sprintf("; publish one, e.g. _dmarc.%s. IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@%s\"", org, org)
		}
		if len(problems) > 0 {
			detail += "; " + strings.Join(problems, "; ")
		}
		ev.Result, ev.Detail = "none", detail
		ev.Log(p.log)
		return pass
	}
	ev.Record, ev.P = policy.At, string(policy.Record.Policy)
	if len(problems) == 0 {
		ev.Result = "aligned"
		ev.Log(p.log)
		return pass
	}
	ev.Result, ev.Detail = "misaligned", strings.Join(problems, "; ")
	ev.Log(p.log)
	if p.policy != config.SPFReject {
		return pass
	}
	// One problem a line keeps each reply line within RFC 5321's 512
	// octets (section 4.5.3.1.5).
	return Verdict{Reject, "DMARC: " + strings.Join(problems, "\nDMARC: ")}
}
