package delivery

import (
	"context"
	"dkimrelay/events"
	"dkimrelay/relay/outcome"
	"errors"
	"log/slog"
	"net"
)

// txn is the delivery of one message to one destination's recipients.
type txn struct {
	d     *Deliverer
	log   *slog.Logger
	msg   Message
	body  content
	rcpts []string
}

// viaMX tries the domain's hosts in MX order and each host's addresses in
// turn, until one session reaches the mail transaction (RFC 5321 section
// 5.1). Once MAIL FROM has been answered the outcome is final for this
// attempt: later hosts are not tried, so a message is never sent twice in
// one attempt.
//
// Without a policy, STARTTLS is used whenever offered (opportunistic TLS,
// RFC 3207 and RFC 7435): certificates are not verified, since MX hosts
// are found through unauthenticated DNS and checking them would stop
// delivery without adding protection, but TLS 1.2 is the minimum; if the
// handshake fails, the same address is tried once more in plaintext. A
// domain's MTA-STS policy in enforce mode limits the hosts and requires
// verified TLS; DANE TLSA records, where DNSSEC vouches for them, require
// a matching certificate (see hostSpec).
func (t *txn) viaMX(ctx context.Context, domain string) []outcome.Outcome {
	hops, final := t.route(ctx, domain)
	if final != nil {
		events.NoRouteFound{Reason: final.Reply}.Log(t.log)
		return final.For(t.rcpts)
	}
	// Before any transaction: if one failure was transient, the whole is
	// (an unreachable host may come back); if all were permanent (no
	// addresses, 5xx greetings), it is permanent.
	var lastTransient, lastPermanent *outcome.Outcome
	note := func(o *outcome.Outcome) {
		if o.Status == outcome.Permanent {
			lastPermanent = o
		} else {
			lastTransient = o
		}
	}
	pol := t.mxPolicy(ctx, domain)
	tried := 0
hops:
	for _, h := range hops {
		spec, ips, o := t.hostSpec(ctx, domain, h, pol)
		if o == nil {
			o = t.forRequireTLS(spec)
		}
		if o != nil {
			events.MXSkip{MX: h.name, Reason: o.Reply}.Log(t.log)
			note(o)
			continue
		}
		for _, ip := range ips {
			if ctx.Err() != nil {
				o := outcome.Local(outcome.Transient, "4.4.7", "delivery interrupted: "+context.Cause(ctx).Error())
				note(&o)
				break hops
			}
			if tried == maxAddresses {
				break hops
			}
			tried++
			spec.hop.ip = ip
			results, o := t.attempt(ctx, spec)
			if results != nil {
				return results
			}
			events.MXAddressFailure{MX: h.name, Addr: ip.String(), Reason: o.Reply}.Log(t.log)
			note(o)
		}
	}
	switch {
	case lastTransient != nil:
		return lastTransient.For(t.rcpts)
	case lastPermanent != nil:
		return lastPermanent.For(t.rcpts)
	default:
		o := outcome.Local(outcome.Transient, "4.4.1", "no usable address for "+domain)
		return o.For(t.rcpts)
	}
}

var errNoLocalAddr = errors.New("no egress address of this address family is configured")

// dial connects to ip:port from the configured egress address of the same
// family, if any.
func (d *Deliverer) dial(ctx context.Context, ip net.IP, port string) (net.Conn, error) {
	dialer := net.Dialer{Timeout: d.cfg.ConnectTimeout}
	if len(d.cfg.EgressIPs) > 0 {
		v4 := ip.To4() != nil
		for _, la := range d.cfg.EgressIPs {
			if la.Unmap().Is4() == v4 {
				dialer.LocalAddr = &net.TCPAddr{IP: la.AsSlice()}
				break
			}
		}
		if dialer.LocalAddr == nil {
			return nil, errNoLocalAddr
		}
	}
	return dialer.DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), port))
}
