package delivery

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net"
	"strings"
	"time"

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
func (t *txn) viaSmarthost(ctx context.Context) []Result {
	results := t.smarthostResults(ctx)
	// Defence in depth: whatever the upstream echoes, no reply text may
	// carry the password.
	for i := range results {
		results[i].Reply = t.redact(results[i].Reply)
	}
	return results
}

func (t *txn) smarthostResults(ctx context.Context) []Result {
	host := t.d.smartH
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IP{ip}
	} else {
		addrs, err := t.d.cfg.Resolver.LookupIPAddr(ctx, host)
		if err != nil {
			o := local(Transient, "4.4.3", "address lookup for smarthost "+host+" failed: "+err.Error())
			o.MX = host
			return o.forAll(t.rcpts)
		}
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	last := local(Transient, "4.4.1", "no usable address for smarthost "+host)
	for i, ip := range ips {
		if i == maxAddresses {
			break
		}
		if err := ctx.Err(); err != nil {
			last = local(Transient, "4.4.7", "delivery interrupted: "+err.Error())
			break
		}
		results, o := t.trySmarthost(ctx, host, ip)
		if results != nil {
			return results
		}
		t.log.Debug("moving to next smarthost address", "addr", ip.String(), "reason", o.Reply)
		last = *o
	}
	last.MX = host
	return last.forAll(t.rcpts)
}

// trySmarthost is tryAddr for the smarthost: mandatory TLS, then AUTH.
func (t *txn) trySmarthost(ctx context.Context, host string, ip net.IP) ([]Result, *outcome) {
	cfg := t.d.cfg
	where := host + "[" + ip.String() + "]"
	fail := func(enhanced, reason string) *outcome {
		o := local(Transient, enhanced, reason)
		o.MX = host
		return &o
	}
	key := "smarthost " + host + " " + net.JoinHostPort(ip.String(), t.d.smartP)
	if results := t.reuse(ctx, key, host, where); results != nil {
		return results, nil
	}
	conn, err := t.d.dial(ctx, ip, t.d.smartP)
	if err != nil {
		return nil, fail("4.4.1", "cannot connect to smarthost "+where+":"+t.d.smartP+": "+describe(err))
	}
	born := time.Now()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c := newClient(conn, cfg.CommandTimeout)
	pooled := false
	defer func() {
		if !pooled {
			c.close()
		}
	}()

	if cfg.SmarthostTLS == TLSImplicit {
		tc := tls.Client(conn, t.d.smartTC)
		_ = tc.SetDeadline(time.Now().Add(cfg.CommandTimeout))
		if err := tc.Handshake(); err != nil {
			return nil, fail("4.7.0", "TLS handshake with smarthost "+where+" failed: "+tlsReason(ctx, err))
		}
		_ = tc.SetDeadline(time.Time{})
		c.useTLS(tc)
	}

	step := func(stage string, rep *reply, err error) *outcome {
		if err != nil {
			o := lost(ctx, where, stage, err)
			o.MX = host
			return &o
		}
		if !rep.positive() {
			o := remote(host, rep)
			o.Status = Transient // the smarthost is ours: retry, never bounce for its session trouble
			o.Enhanced = transientStatus(o.Enhanced)
			return &o
		}
		return nil
	}
	rep, err := c.greet()
	if o := step("waiting for the greeting", rep, err); o != nil {
		return nil, o
	}
	rep, err = c.hello(cfg.Hostname)
	if o := step("in reply to EHLO", rep, err); o != nil {
		return nil, o
	}

	if cfg.SmarthostTLS == TLSStartTLS {
		if !c.has("STARTTLS") {
			c.quit()
			return nil, fail("4.7.0", "smarthost "+where+" does not offer STARTTLS; "+
				"refusing to send mail or credentials without TLS")
		}
		rep, err := c.startTLS(t.d.smartTC)
		var he *tlsHandshakeError
		if errors.As(err, &he) {
			return nil, fail("4.7.0", "TLS handshake with smarthost "+where+" failed: "+tlsReason(ctx, he.err))
		}
		if o := step("in reply to STARTTLS", rep, err); o != nil {
			return nil, o
		}
		if rep.Code != 220 {
			c.quit()
			return nil, fail("4.7.0", "smarthost "+where+" refused STARTTLS: "+rep.String())
		}
		rep, err = c.hello(cfg.Hostname)
		if o := step("in reply to EHLO after STARTTLS", rep, err); o != nil {
			return nil, o
		}
	}

	if cfg.SmarthostUser != "" {
		if o := t.authenticate(ctx, c, host, where); o != nil {
			// A refused login is final for this attempt: another
			// address of the same upstream has the same password.
			c.quit()
			return o.forAll(t.rcpts), nil
		}
	}
	results, e := t.transact(ctx, c, host, where, false)
	if !stop() {
		e = endClose // ctx ended and closed the connection
	}
	pooled = e == endKeep
	t.finish(key, c, born, e)
	return results, nil
}

// authenticate logs in with PLAIN (RFC 4616), or LOGIN when PLAIN is not
// offered. It returns nil on success.
func (t *txn) authenticate(ctx context.Context, c *client, host, where string) *outcome {
	cfg := t.d.cfg
	mechs := strings.Fields(strings.ToUpper(c.ext["AUTH"]))
	var a sasl.Client
	switch {
	case contains(mechs, sasl.Plain):
		a = sasl.NewPlainClient("", cfg.SmarthostUser, cfg.SmarthostPassword)
	case contains(mechs, sasl.Login):
		a = sasl.NewLoginClient(cfg.SmarthostUser, cfg.SmarthostPassword)
	default:
		o := local(Transient, "4.7.0", "smarthost "+where+" offers neither AUTH PLAIN nor AUTH LOGIN"+
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
		o := remote(host, rep)
		o.Status = Transient
		o.Enhanced = transientStatus(o.Enhanced)
		o.TLS = tlsVersion(c.tls)
		o.Reply = "smarthost " + host + " rejected the login of " + cfg.SmarthostUser + ": " + rep.String() +
			" (check smarthost_user and smarthost_password_file)"
		t.log.Error("smarthost authentication failed", "smarthost", host, "user", cfg.SmarthostUser, "reply", t.redact(rep.String()))
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

// transientStatus turns an RFC 3463 status into its 4.x.x form.
func transientStatus(s string) string {
	if len(s) > 1 && s[0] == '5' {
		return "4" + s[1:]
	}
	if s == "" {
		return "4.0.0"
	}
	return s
}

func tlsReason(ctx context.Context, err error) string {
	if ctx.Err() != nil {
		return ctx.Err().Error()
	}
	return describe(err)
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
