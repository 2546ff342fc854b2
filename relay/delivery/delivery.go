// Package delivery makes one attempt to hand a queued message to the next
// hop: the recipient domains' MX hosts (RFC 5321 section 5), or one
// smarthost. It returns, per recipient, the attempt's outcome (package
// outcome): delivered, failed for now (Transient: retry later) or failed
// for good (Permanent: bounce). Retries, lifetimes and bounces are the
// queue's business.
package delivery

import (
	"context"
	"crypto/x509"
	"dkimrelay/config"
	"dkimrelay/events"
	"dkimrelay/relay/outcome"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Resolver is the DNS the deliverer needs; *resolver.Resolver satisfies it.
// Errors should be *net.DNSError so not-found and temporary failures can be
// told apart (see package resolver).
type Resolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Defaults for the Config fields that are not config keys.
const (
	// RFC 5321 section 4.5.3.2.6: 10 minutes for the reply to the final dot.
	DefaultDataTimeout = 10 * time.Minute
	DefaultReuseIdle   = 5 * time.Second
	DefaultReuseMaxAge = 5 * time.Minute
	// maxAddresses caps the addresses tried for one destination in one
	// attempt, so a domain with many dead MX hosts cannot hold a
	// delivery slot for hours (Postfix's smtp_mx_address_limit is 5).
	maxAddresses = 10
)

// Config configures a Deliverer.
type Config struct {
	// Delivery is the [delivery] section as config loaded it: the mode,
	// the MX port, the smarthost and its TLS, the egress addresses (one
	// per address family is bound; none: the kernel's choice), the
	// timeouts and the sessions per destination.
	config.Delivery

	Hostname string // EHLO name
	// OutboxConfig is the config file, for the verify command logged
	// with each file written in outbox mode.
	OutboxConfig      string
	SmarthostPassword string // read from smarthost_password_file; never logged nor reported

	// RootCAs are the roots trusted wherever a certificate is verified
	// (the smarthost; MX hosts whose policy asks for it); nil: the
	// system roots.
	RootCAs *x509.CertPool

	Resolver Resolver
	// STSPolicies finds the receiving domains' MTA-STS policies (RFC
	// 8461), in mx mode; nil: none are honoured (delivery.mta_sts off).
	STSPolicies MTASTSPolicies
	// DANEResolver answers the validated lookups DANE needs (RFC 7672);
	// nil: DANE is off (delivery.dane).
	DANEResolver DANEResolver
	// TLSReporter counts the sessions to MX hosts for TLS reports (RFC
	// 8460); nil: none are counted ([tlsrpt] enabled = false).
	TLSReporter SessionReporter
	Logger      *slog.Logger // default: discard

	// DataTimeout bounds the wait for the reply to the final dot; default
	// 10m. ReuseIdle is how long a session stays open after a
	// transaction for the next message to the same host and address;
	// default 5s, negative: a new connection for every message.
	// ReuseMaxAge bounds a session's whole life; default 5m.
	DataTimeout time.Duration
	ReuseIdle   time.Duration
	ReuseMaxAge time.Duration
}

// Deliverer delivers messages. It is safe for concurrent use.
type Deliverer struct {
	cfg    Config
	log    *slog.Logger
	limit  *limiter
	mxPort string      // Config.Port, in mx mode
	smart  sessionSpec // the session to the smarthost but for its address, in smarthost mode
	pool   *pool       // idle sessions; nil when reuse is off
}

// Message is one queued message and the recipients to attempt now.
type Message struct {
	ID    string // queue ID, for logs
	From  string // envelope sender; "" is the null sender
	Rcpts []string
	// Open returns the full signed message. It is called once to look at
	// the content and then once per SMTP transaction.
	Open func() (io.ReadCloser, error)
	Size int64 // announced with SIZE (RFC 1870) when > 0
	// RequireTLS: the sender asked for REQUIRETLS (RFC 8689); see
	// requiretls.go. TLSOptional: it said "TLS-Required: No".
	RequireTLS, TLSOptional bool
}

// New checks cfg, fills in defaults and returns a Deliverer.
func New(cfg Config) (*Deliverer, error) {
	if cfg.Hostname == "" {
		return nil, errors.New("delivery: Hostname (the EHLO name) is required")
	}
	if cfg.MaxPerDomain < 1 || cfg.ConnectTimeout <= 0 || cfg.CommandTimeout <= 0 {
		return nil, errors.New("delivery: no [delivery] section given: pass the loaded config's")
	}
	if cfg.DataTimeout <= 0 {
		cfg.DataTimeout = DefaultDataTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.ReuseIdle == 0 {
		cfg.ReuseIdle = DefaultReuseIdle
	}
	if cfg.ReuseMaxAge <= 0 {
		cfg.ReuseMaxAge = DefaultReuseMaxAge
	}
	d := &Deliverer{cfg: cfg, log: log, limit: newLimiter(cfg.MaxPerDomain)}
	if cfg.ReuseIdle > 0 {
		// At most MaxPerDomain sessions to one destination are busy at
		// once, so no more than that can be idle.
		d.pool = newPool(cfg.ReuseIdle, cfg.ReuseMaxAge, cfg.MaxPerDomain)
	}

	// The section's values were checked when the config was loaded;
	// what is left is what a mode needs of the caller.
	switch cfg.Mode {
	case config.ModeMX:
		if cfg.Resolver == nil {
			return nil, errors.New("delivery: mx mode needs a Resolver")
		}
		d.mxPort = strconv.Itoa(cfg.Port)
	case config.ModeSmarthost:
		host, port := cfg.SmarthostHostPort()
		d.smart = smarthostSpec(cfg, host, port)
		if cfg.Resolver == nil && net.ParseIP(host) == nil {
			return nil, errors.New("delivery: a smarthost given by name needs a Resolver")
		}
	case config.ModeOutbox:
		if err := checkOutbox(cfg); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("delivery: mode %q: want %q, %q or %q", cfg.Mode, config.ModeMX, config.ModeSmarthost, config.ModeOutbox)
	}
	return d, nil
}

// Close ends the idle sessions kept for reuse. The Deliverer stays usable.
func (d *Deliverer) Close() {
	d.pool.closeAll()
}

// Deliver makes one delivery attempt for m and returns one Result per
// recipient, in the order of m.Rcpts. Recipients are grouped by domain (in
// smarthost mode: all together), one SMTP transaction per group, groups in
// parallel. Cancelling ctx aborts the sessions; their recipients are
// Transient.
func (d *Deliverer) Deliver(ctx context.Context, m Message) []outcome.Outcome {
	results := make([]outcome.Outcome, len(m.Rcpts))
	for i, rcpt := range m.Rcpts {
		results[i] = outcome.Outcome{Rcpt: rcpt, Status: outcome.Transient}
	}
	if len(m.Rcpts) == 0 {
		return results
	}
	log := d.log.With("qid", m.ID)
	if d.cfg.Mode == config.ModeOutbox {
		return d.toOutbox(log, m)
	}

	body, open, err := loadContent(m.Open, m.Size)
	if err != nil {
		events.UnreadableMessage{Err: err}.Log(log)
		return outcome.Local(outcome.Transient, "4.3.0", "cannot read the queued message: "+err.Error()).For(m.Rcpts)
	}
	m.Open = open

	// Group recipient indices by destination.
	groups := map[string][]int{}
	var order []string
	for i, rcpt := range m.Rcpts {
		key := d.cfg.Smarthost
		if d.cfg.Mode == config.ModeMX {
			domain, ok := domainOf(rcpt)
			if !ok {
				results[i] = outcome.Local(outcome.Permanent, "5.1.3", "malformed recipient address")
				results[i].Rcpt = rcpt
				continue
			}
			key = domain
		}
		if _, seen := groups[key]; !seen {
			order = append(order, key)
		}
		groups[key] = append(groups[key], i)
	}

	deliver := func(key string) {
		idx := groups[key]
		rcpts := make([]string, len(idx))
		for j, i := range idx {
			rcpts[j] = m.Rcpts[i]
		}
		out := d.deliverGroup(ctx, log, m, body, key, rcpts)
		for j, i := range idx {
			results[i] = out[j]
		}
	}
	if len(order) == 1 {
		// The usual case (one recipient, or a smarthost): no goroutine
		// to start and hand the work over to.
		deliver(order[0])
		return results
	}
	var wg sync.WaitGroup
	for _, key := range order {
		wg.Go(func() { deliver(key) })
	}
	wg.Wait()
	return results
}

// deliverGroup runs one transaction for recipients sharing a destination,
// holding one of the destination's MaxPerDomain slots.
func (d *Deliverer) deliverGroup(ctx context.Context, log *slog.Logger, m Message, body content, key string, rcpts []string) []outcome.Outcome {
	release, err := d.limit.acquire(ctx, key)
	if err != nil {
		return outcome.Local(outcome.Transient, "4.4.7", "delivery interrupted: "+context.Cause(ctx).Error()).For(rcpts)
	}
	defer release()
	t := &txn{d: d, log: log.With("dest", key), msg: m, body: body, rcpts: rcpts}
	if d.cfg.Mode == config.ModeSmarthost {
		return t.viaSmarthost(ctx)
	}
	return t.viaMX(ctx, key)
}

// domainOf returns the lower-cased domain of addr, or false when addr has
// no "@domain".
func domainOf(addr string) (string, bool) {
	i := strings.LastIndexByte(addr, '@')
	if i <= 0 || i == len(addr)-1 {
		return "", false
	}
	return strings.ToLower(addr[i+1:]), true
}

// remote is the outcome of a server's reply.
func remote(host string, rep *reply) outcome.Outcome {
	return outcome.Remote(host, rep.Code, rep.Enhanced, rep.String())
}
