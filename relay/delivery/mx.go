package delivery

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"time"
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
func (t *txn) viaMX(ctx context.Context, domain string) []Result {
	hops, final := t.route(ctx, domain)
	if final != nil {
		t.log.Debug("no route", "reason", final.Reply)
		return final.forAll(t.rcpts)
	}
	// Before any transaction: if one failure was transient, the whole is
	// (an unreachable host may come back); if all were permanent (no
	// addresses, 5xx greetings), it is permanent.
	var lastTransient, lastPermanent *outcome
	note := func(o *outcome) {
		if o.Status == Permanent {
			lastPermanent = o
		} else {
			lastTransient = o
		}
	}
	tried := 0
hops:
	for _, h := range hops {
		ips, o := t.addresses(ctx, domain, h)
		if o != nil {
			t.log.Debug("skipping MX host", "mx", h.name, "reason", o.Reply)
			note(o)
			continue
		}
		for _, ip := range ips {
			if err := ctx.Err(); err != nil {
				o := local(Transient, "4.4.7", "delivery interrupted: "+err.Error())
				note(&o)
				break hops
			}
			if tried == maxAddresses {
				break hops
			}
			tried++
			results, o := t.tryAddr(ctx, h.name, ip, true)
			if results != nil {
				return results
			}
			t.log.Debug("moving to next MX address", "mx", h.name, "addr", ip.String(), "reason", o.Reply)
			note(o)
		}
	}
	switch {
	case lastTransient != nil:
		return lastTransient.forAll(t.rcpts)
	case lastPermanent != nil:
		return lastPermanent.forAll(t.rcpts)
	default:
		o := local(Transient, "4.4.1", "no usable address for "+domain)
		return o.forAll(t.rcpts)
	}
}

// tryAddr opens one session to host at ip. It returns the final results
// once the mail transaction started, or, when the session failed before
// that, the outcome that made it move on: no connection, no greeting, a
// negative greeting or EHLO (RFC 5321 section 3.1 and 5.1).
//
// STARTTLS is used whenever offered (opportunistic TLS, RFC 3207 and RFC
// 7435): certificates are not verified, since MX hosts are found through
// unauthenticated DNS and checking them would stop delivery without adding
// protection, but TLS 1.2 is the minimum. If the handshake fails, the same
// address is tried once more in plaintext, as Postfix does: a broken TLS
// stack on the receiving side must not block mail that would otherwise
// travel in clear anyway.
func (t *txn) tryAddr(ctx context.Context, host string, ip net.IP, useTLS bool) ([]Result, *outcome) {
	cfg := t.d.cfg
	where := host + "[" + ip.String() + "]"
	key := "mx " + host + " " + net.JoinHostPort(ip.String(), strconv.Itoa(cfg.Port))
	if useTLS {
		if results := t.reuse(ctx, key, host, where); results != nil {
			return results, nil
		}
	}
	conn, err := t.d.dial(ctx, ip, strconv.Itoa(cfg.Port))
	if err != nil {
		o := local(Transient, "4.4.1", "cannot connect to "+where+":"+strconv.Itoa(cfg.Port)+": "+describe(err))
		o.MX = host
		return nil, &o
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

	moveOn := func(stage string, rep *reply, err error) (*outcome, bool) {
		if err != nil {
			o := lost(ctx, where, stage, err)
			o.MX = host
			return &o, true
		}
		if !rep.positive() {
			o := remote(host, rep)
			return &o, true
		}
		return nil, false
	}

	rep, err := c.greet()
	if o, bad := moveOn("waiting for the greeting", rep, err); bad {
		return nil, o
	}
	rep, err = c.hello(cfg.Hostname)
	if o, bad := moveOn("in reply to EHLO", rep, err); bad {
		return nil, o
	}

	if useTLS && c.has("STARTTLS") {
		rep, err := c.startTLS(opportunisticTLS(host))
		var he *tlsHandshakeError
		switch {
		case errors.As(err, &he):
			t.log.Warn("TLS handshake failed; retrying in plaintext", "mx", host, "addr", ip.String(), "err", he.err.Error())
			c.close()
			return t.tryAddr(ctx, host, ip, false)
		case err != nil:
			o := lost(ctx, where, "in reply to STARTTLS", err)
			o.MX = host
			return nil, &o
		case rep.Code != 220:
			// The server offered STARTTLS and then declined it: RFC
			// 3207 section 4 lets the client go on in plaintext.
			t.log.Info("STARTTLS declined; continuing in plaintext", "mx", host, "reply", rep.String())
		default:
			rep, err = c.hello(cfg.Hostname)
			if o, bad := moveOn("in reply to EHLO after STARTTLS", rep, err); bad {
				return nil, o
			}
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

// opportunisticTLS is the client configuration for MX hosts. The server
// name is still sent (SNI) so hosts serving several names pick the right
// certificate.
func opportunisticTLS(host string) *tls.Config {
	cfg := &tls.Config{
		InsecureSkipVerify: true, // opportunistic: RFC 7435 section 1.3
		MinVersion:         tls.VersionTLS12,
	}
	if net.ParseIP(host) == nil && host[0] != '[' {
		cfg.ServerName = host
	}
	return cfg
}

var errNoLocalAddr = errors.New("no egress address of this address family is configured")

// dial connects to ip:port from the configured egress address of the same
// family, if any.
func (d *Deliverer) dial(ctx context.Context, ip net.IP, port string) (net.Conn, error) {
	dialer := net.Dialer{Timeout: d.cfg.ConnectTimeout}
	if len(d.cfg.LocalAddrs) > 0 {
		v4 := ip.To4() != nil
		for _, la := range d.cfg.LocalAddrs {
			if (la.To4() != nil) == v4 {
				dialer.LocalAddr = &net.TCPAddr{IP: la}
				break
			}
		}
		if dialer.LocalAddr == nil {
			return nil, errNoLocalAddr
		}
	}
	return dialer.DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), port))
}
