package delivery

import (
	"context"
	"dkimrelay/config"
	"dkimrelay/events"
	"dkimrelay/relay/outcome"
	"encoding/base64"
	"net"
	"strings"

	"github.com/emersion/go-sasl"
)

// viaSmarthost hands every recipient to the one configured upstream.
//
// TLS is required in this mode, implicit (RFC 8314) or through STARTTLS,
// and the certificate is verified: credentials and mail must never cross
// to the upstream in clear. An upstream that offers no STARTTLS, a failed
// handshake, or a refused login are Transient, not Permanent: they are the
// administrator's to fix (configuration, password file), and users' mail
// must wait for that rather than bounce.
func (t *txn) viaSmarthost(ctx context.Context) []outcome.Outcome {
	results := t.smarthostResults(ctx)
	// Defence in depth: whatever the upstream echoes, no reply text may
	// carry the password.
	for i := range results {
		results[i].Reply = t.redact(results[i].Reply)
	}
	return results
}

func (t *txn) smarthostResults(ctx context.Context) []outcome.Outcome {
	host := t.d.smart.hop.host
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IP{ip}
	} else {
		addrs, err := t.d.cfg.Resolver.LookupIPAddr(ctx, host)
		if err != nil {
			o := outcome.Local(outcome.Transient, "4.4.3", "address lookup for smarthost "+host+" failed: "+err.Error())
			o.MX = host
			return o.For(t.rcpts)
		}
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	last := outcome.Local(outcome.Transient, "4.4.1", "no usable address for smarthost "+host)
	for i, ip := range ips {
		if i == maxAddresses {
			break
		}
		if ctx.Err() != nil {
			last = outcome.Local(outcome.Transient, "4.4.7", "delivery interrupted: "+context.Cause(ctx).Error())
			break
		}
		results, o := t.trySmarthost(ctx, host, ip)
		if results != nil {
			return results
		}
		events.SmarthostAddressFailure{Addr: ip.String(), Reason: o.Reply}.Log(t.log)
		last = *o
	}
	last.MX = host
	return last.For(t.rcpts)
}

// trySmarthost delivers through the smarthost at ip; see attempt.
func (t *txn) trySmarthost(ctx context.Context, host string, ip net.IP) ([]outcome.Outcome, *outcome.Outcome) {
	spec := t.d.smart
	spec.hop.ip = ip
	if o := t.forRequireTLS(&spec); o != nil {
		return o.For(t.rcpts), nil // the same for every address
	}
	return t.attempt(ctx, &spec)
}

// smarthostSpec is the session to the smarthost, but for its address:
// verified TLS (implicit or STARTTLS) unless smarthost_tls is
// opportunistic, AUTH when configured, and every
// refusal before the transaction Transient.
func smarthostSpec(cfg Config, host, port string) sessionSpec {
	req := TLSRequirement{Level: TLSVerifyNames, Implicit: cfg.SmarthostTLS == config.TLSImplicit}
	switch {
	case cfg.SmarthostTLS == config.TLSOpportunistic:
		req.Level = TLSOpportunistic // a smarthost without TLS; no login
	case cfg.SmarthostInsecureSkipVerify:
		req.Level = TLSEncrypt // for test rigs; the README warns
	}
	spec := sessionSpec{
		hop:      target{kind: config.ModeSmarthost, host: host, port: port},
		tls:      req,
		policy:   PolicySmarthost,
		classify: smarthostRefusal,
	}
	if cfg.SmarthostUser != "" {
		spec.auth = &credentials{user: cfg.SmarthostUser, password: cfg.SmarthostPassword}
	}
	return spec
}

// smarthostRefusal keeps a refusal by the smarthost Transient: the
// smarthost is ours, so its session trouble is retried, never bounced.
func smarthostRefusal(o outcome.Outcome) outcome.Outcome { return o.Retry() }

// authenticate logs in with PLAIN (RFC 4616), or LOGIN when PLAIN is not
// offered. It returns nil on success.
func (t *txn) authenticate(ctx context.Context, c *client, h target, cred *credentials) *outcome.Outcome {
	host, where := h.host, h.where()
	mechs := strings.Fields(strings.ToUpper(c.ext["AUTH"]))
	var a sasl.Client
	switch {
	case contains(mechs, sasl.Plain):
		a = sasl.NewPlainClient("", cred.user, cred.password)
	case contains(mechs, sasl.Login):
		a = sasl.NewLoginClient(cred.user, cred.password)
	default:
		o := outcome.Local(outcome.Transient, "4.7.0", h.label()+" offers neither AUTH PLAIN nor AUTH LOGIN"+
			offered(c.ext["AUTH"]))
		o.MX = host
		return &o
	}
	rep, err := c.auth(a)
	if err != nil {
		o := lost(ctx, where, "during AUTH", err)
		o.MX = host
		return &o
	}
	if rep.Code != 235 {
		o := remote(host, rep).Retry()
		o.TLS = tlsVersion(c.tls)
		o.Reply = string(h.kind) + " " + host + " rejected the login of " + cred.user + ": " + rep.String() +
			" (check smarthost_user and smarthost_password_file)"
		events.SmarthostAuthFailure{Smarthost: host, User: cred.user, Reply: t.redact(rep.String())}.Log(t.log)
		return &o
	}
	return nil
}

func offered(auth string) string {
	if auth == "" {
		return " (no AUTH advertised)"
	}
	return " (offers " + auth + ")"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// redact removes the smarthost password, raw or in the base64 forms the
// AUTH exchange used, from s.
func (t *txn) redact(s string) string {
	pw := t.d.cfg.SmarthostPassword
	if pw == "" {
		return s
	}
	user := t.d.cfg.SmarthostUser
	b64 := base64.StdEncoding.EncodeToString
	for _, secret := range []string{
		b64([]byte("\x00" + user + "\x00" + pw)), // PLAIN initial response
		b64([]byte(pw)),                          // LOGIN password
		pw,
	} {
		s = strings.ReplaceAll(s, secret, "[redacted]")
	}
	return s
}
