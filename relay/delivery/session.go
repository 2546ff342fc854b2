package delivery

import (
	"context"
	"crypto/tls"
	"dkimrelay/config"
	"dkimrelay/events"
	"dkimrelay/relay/outcome"
	"errors"
	"net"
	"time"
)

// target is one next hop: a host at one address and port.
type target struct {
	kind config.DeliveryMode // mx or smarthost: the pool key and the wording of failures
	host string              // the name: TLS SNI, verification, and what results name as MX
	ip   net.IP
	port string
}

// where names the hop in messages: "mx1.example.net[192.0.2.1]".
func (h target) where() string { return h.host + "[" + h.ip.String() + "]" }

// label is where with the hop's role when that helps the reader:
// "smarthost smtp.example.net[192.0.2.1]".
func (h target) label() string {
	if h.kind == config.ModeSmarthost {
		return "smarthost " + h.where()
	}
	return h.where()
}

// credentials log in with AUTH (RFC 4954) after TLS.
type credentials struct {
	user, password string
}

// sessionSpec is everything one outbound session needs: where it goes,
// what TLS it must have, whether it logs in, and what a refusal before the
// transaction means. MX and smarthost delivery differ only in how they
// find the hop and in classify.
type sessionSpec struct {
	hop  target
	tls  TLSRequirement
	auth *credentials // nil: no AUTH
	// policy names the TLS policy the session is held to, for the
	// tls_policy of events: "opportunistic", "mta-sts", "smarthost"...
	policy string
	// why says, for a refusal by policy, who asks for TLS: "required by
	// the MTA-STS policy of example.net"; "" adds nothing.
	why string
	// dane notes what DANE found for the host, for dkimrelay tls.
	dane string
	// requireTLS: the message asked for REQUIRETLS (RFC 8689), so the
	// server must offer it.
	requireTLS bool
	// domain is the recipient domain whose policy the session is held
	// to, and stsLines its MTA-STS policy, for TLS reporting; "" for the
	// smarthost.
	domain   string
	stsLines []string
	// classify turns the outcome of a failure before the transaction
	// (a negative greeting, EHLO or STARTTLS reply, a broken
	// connection) into this hop's outcome; nil keeps it.
	classify func(outcome.Outcome) outcome.Outcome
}

// poolKey is what a session was shaped by: a pooled session is reused only
// for the same hop under the same TLS requirement.
func (s *sessionSpec) poolKey() string {
	key := string(s.hop.kind) + " " + s.hop.host + " " + net.JoinHostPort(s.hop.ip.String(), s.hop.port) + " " + s.tls.Level.String()
	if s.tls.Implicit {
		key += " implicit"
	}
	if s.tls.ReportOnly {
		key += " report-only"
	}
	return key
}

// opened says how opening a session ended.
type opened int

const (
	openOK        opened = iota
	openMoveOn           // this address failed before the transaction: try the next one
	openFinal            // the attempt is over for every recipient (a refused login)
	openPlaintext        // an opportunistic handshake failed: retry the address without TLS
)

// attempt delivers the transaction on one session to spec.hop: an idle
// one from the pool, or a new one. It returns the final results once the
// transaction started, or, when the session failed before that, the
// outcome that made it move on to the next address (RFC 5321 section 5.1).
func (t *txn) attempt(ctx context.Context, spec *sessionSpec) ([]outcome.Outcome, *outcome.Outcome) {
	key := spec.poolKey()
	if results := t.reuse(ctx, key, spec); results != nil {
		return results, nil
	}
	req := spec.tls
	for {
		results, o, end := t.session(ctx, spec, req, key)
		switch end {
		case openOK:
			return results, nil
		case openFinal:
			return o.For(t.rcpts), nil
		case openPlaintext:
			// A broken TLS stack on the receiving side must not
			// block mail that would travel in clear anyway: the same
			// address once more in plaintext, as Postfix does.
			req = TLSRequirement{Level: TLSPlaintext}
			continue
		}
		return nil, o
	}
}

// session connects to spec.hop, opens the session under req, runs the
// transaction and ends or pools the session.
func (t *txn) session(ctx context.Context, spec *sessionSpec, req TLSRequirement, key string) ([]outcome.Outcome, *outcome.Outcome, opened) {
	h := spec.hop
	conn, err := t.d.dial(ctx, h.ip, h.port)
	if err != nil {
		o := outcome.Local(outcome.Transient, "4.4.1", "cannot connect to "+h.label()+":"+h.port+": "+describe(err))
		if ctx.Err() != nil {
			o = lost(ctx, h.label(), "while connecting", err)
		}
		o.MX, o.TLSPolicy = h.host, spec.refusingPolicy()
		return nil, &o, openMoveOn
	}
	born := time.Now()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c := newClient(conn, t.d.cfg.CommandTimeout)
	o, end := t.open(ctx, c, spec, req)
	if end != openPlaintext {
		t.reportSession(spec, o, c.info.Problem)
	}
	if end != openOK {
		c.close()
		if o != nil {
			o.TLSPolicy = spec.refusingPolicy()
		}
		return nil, o, end
	}
	results, e := t.transact(ctx, c, spec, false)
	if !stop() {
		e = endClose // ctx ended and closed the connection
	}
	t.finish(key, c, born, e)
	return results, nil, openOK
}

// open takes a connected session through the greeting, EHLO, TLS as req
// asks (RFC 3207, RFC 8314), EHLO again and AUTH, to the point where the
// mail transaction can start. On failure the caller closes c; open says
// QUIT first where the server is owed one.
func (t *txn) open(ctx context.Context, c *client, spec *sessionSpec, req TLSRequirement) (*outcome.Outcome, opened) {
	h := spec.hop
	hostname := t.d.cfg.Hostname
	fail := func(enhanced, reason string) (*outcome.Outcome, opened) {
		if spec.why != "" {
			reason += " (" + spec.why + ")"
		}
		o := outcome.Local(outcome.Transient, enhanced, reason)
		o.MX = h.host
		return &o, openMoveOn
	}
	moveOn := func(stage string, rep *reply, err error) (*outcome.Outcome, opened) {
		var o outcome.Outcome
		switch {
		case err != nil:
			o = lost(ctx, h.where(), stage, err)
			o.MX = h.host
		case !rep.positive():
			o = remote(h.host, rep)
		default:
			return nil, openOK
		}
		if spec.classify != nil {
			o = spec.classify(o)
		}
		return &o, openMoveOn
	}

	if req.Implicit {
		tc := tls.Client(c.raw, t.d.tlsConfig(h.host, req, &c.info))
		_ = tc.SetDeadline(time.Now().Add(t.d.cfg.CommandTimeout))
		if err := tc.Handshake(); err != nil {
			return fail("4.7.0", "TLS handshake with "+h.label()+" failed: "+tlsReason(ctx, err))
		}
		_ = tc.SetDeadline(time.Time{})
		c.useTLS(tc)
	}
	rep, err := c.greet()
	if o, end := moveOn("waiting for the greeting", rep, err); end != openOK {
		return o, end
	}
	rep, err = c.hello(hostname)
	if o, end := moveOn("in reply to EHLO", rep, err); end != openOK {
		return o, end
	}

	if !req.Implicit && req.Level != TLSPlaintext {
		without := "mail"
		if spec.auth != nil {
			without = "mail or credentials"
		}
		switch {
		case !c.has("STARTTLS") && req.refuses():
			c.quit()
			return fail("4.7.0", h.label()+" does not offer STARTTLS; refusing to send "+without+" without TLS")
		case !c.has("STARTTLS"):
			// Opportunistic: plaintext it is.
			if req.ReportOnly {
				c.info.Problem = "no STARTTLS offered"
			}
		default:
			rep, err := c.startTLS(t.d.tlsConfig(h.host, req, &c.info))
			var he *tlsHandshakeError
			switch {
			case errors.As(err, &he) && !req.refuses():
				events.TLSFallbackPlaintext{MX: h.host, Addr: h.ip.String(), Err: he.err}.Log(t.log)
				return nil, openPlaintext
			case errors.As(err, &he):
				return fail("4.7.0", "TLS handshake with "+h.label()+" failed: "+tlsReason(ctx, he.err))
			case err != nil:
				return moveOn("in reply to STARTTLS", rep, err)
			case rep.Code != 220 && req.refuses():
				c.quit()
				return fail("4.7.0", h.label()+" refused STARTTLS: "+rep.String())
			case rep.Code != 220:
				// The server offered STARTTLS and then declined it:
				// RFC 3207 section 4 lets the client go on in
				// plaintext.
				events.STARTTLSDecline{MX: h.host, Reply: rep.String()}.Log(t.log)
			default:
				rep, err = c.hello(hostname)
				if o, end := moveOn("in reply to EHLO after STARTTLS", rep, err); end != openOK {
					return o, end
				}
			}
		}
	}

	if c.info.Problem != "" {
		events.TLSPolicyTestingFailure{MX: h.host, Addr: h.ip.String(), Policy: spec.policy, Problem: c.info.Problem}.Log(t.log)
	}
	if spec.auth != nil {
		if o := t.authenticate(ctx, c, h, spec.auth); o != nil {
			// A refused login is final for this attempt: another
			// address of the same hop has the same password.
			c.quit()
			return o, openFinal
		}
	}
	return nil, openOK
}

// tlsReason words a failed handshake: the certificate problem, or the
// network's.
func tlsReason(ctx context.Context, err error) string {
	if ctx.Err() != nil {
		return context.Cause(ctx).Error()
	}
	var ce *certError
	if errors.As(err, &ce) {
		return ce.reason
	}
	return describe(err)
}
