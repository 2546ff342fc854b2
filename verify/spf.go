package verify

import (
	"context"
	"fmt"
	"net"

	"blitiri.com.ar/go/spf"

	"dkimrelay/authcheck"
)

// SPF is the outcome of SPF for the connecting address and the envelope
// sender's domain (RFC 7208 section 4).
type SPF struct {
	Status      Status `json:"status"`
	Result      string `json:"result,omitempty"` // RFC 7208 section 2.6: pass, fail, softfail, ...
	IP          string `json:"ip,omitempty"`
	MailFrom    string `json:"mail_from,omitempty"`
	Domain      string `json:"domain,omitempty"`
	Explanation string `json:"explanation"`
}

func (v *Verifier) checkSPF(ctx context.Context, env Envelope) SPF {
	out := SPF{MailFrom: env.MailFrom}
	if env.IP != nil {
		out.IP = env.IP.String()
	}
	switch {
	case v.Resolver == nil:
		out.Status, out.Explanation = StatusSkipped, "not checked: SPF needs DNS"
		return out
	case !env.MailFromSet:
		out.Status, out.Explanation = StatusSkipped, "not checked: the message has no Return-Path: field naming the envelope sender; give it with --mail-from"
		return out
	case env.MailFrom == "":
		out.Status, out.Explanation = StatusSkipped, "not checked: the envelope sender is empty (a bounce), so SPF applies to the HELO name instead"
		return out
	case env.IP == nil:
		out.Status, out.Explanation = StatusSkipped, "not checked: no Received: or Received-SPF: field names the address the message came from; give it with --ip"
		return out
	}
	res := authcheck.Evaluate(ctx, v.Resolver, v.Hostname, env.IP, env.MailFrom)
	out.Domain, out.Result = res.Domain, string(res.Result)
	reason := res.Reason()
	switch res.Result {
	case spf.Pass:
		out.Status = StatusPass
		out.Explanation = fmt.Sprintf("%s is authorized by %s's SPF record (%s)", env.IP, res.Domain, reason)
	case spf.Fail, spf.SoftFail:
		out.Status = StatusFail
		out.Explanation = fmt.Sprintf("%s is not authorized by %s's SPF record (%s): add %s to it, or send from an address it authorizes", env.IP, res.Domain, reason, authcheck.Mechanism(env.IP))
	case spf.None:
		out.Status = StatusNone
		out.Explanation = fmt.Sprintf("%s publishes no SPF record: publish \"v=spf1 %s -all\" at %s", res.Domain, authcheck.Mechanism(env.IP), res.Domain)
	case spf.Neutral:
		out.Status = StatusNone
		out.Explanation = fmt.Sprintf("%s's SPF record neither authorizes nor forbids %s (%s): add %s to it", res.Domain, env.IP, reason, authcheck.Mechanism(env.IP))
	case spf.TempError:
		out.Status = StatusFail
		out.Explanation = fmt.Sprintf("SPF could not be evaluated now (%s): a temporary DNS failure; try again, and check dns.servers", reason)
	default: // permerror
		out.Status = StatusFail
		out.Explanation = fmt.Sprintf("%s's SPF record is broken (%s), which receivers treat as a failure", res.Domain, reason)
	}
	return out
}

// ParseIP parses the --ip flag's value.
func ParseIP(s string) (net.IP, error) {
	ip := net.ParseIP(s)
	if ip == nil {
		return nil, fmt.Errorf("%q is not an IP address", s)
	}
	return ip, nil
}
