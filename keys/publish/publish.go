package publish

import (
	"context"
	"dkimrelay/config"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Record is a DKIM key record to publish or delete.
type Record struct {
	// Domain is the signing domain, the zone when keys.publish.zone is
	// empty.
	Domain string
	// Name is the owner, SELECTOR._domainkey.DOMAIN.
	Name string
	// Value is the TXT value, "v=DKIM1; k=...; p=...".
	Value string
}

// Updater sends dynamic updates to one server. It is safe for concurrent use.
type Updater struct {
	opts   config.Publish
	alg    string // miekg/dns spelling, fully qualified
	key    string // key name, fully qualified, lower case
	client *dns.Client
}

var algorithms = map[string]string{
	"hmac-sha1":   dns.HmacSHA1,
	"hmac-sha224": dns.HmacSHA224,
	"hmac-sha256": dns.HmacSHA256,
	"hmac-sha384": dns.HmacSHA384,
	"hmac-sha512": dns.HmacSHA512,
}

// New returns an Updater for the [keys.publish] section as config loaded
// it, signing with secret (base64, from publish.ReadSecret).
func New(opts config.Publish, secret string) (*Updater, error) {
	if !opts.Enabled() {
		return nil, errors.New("publish: keys.publish.server is not set")
	}
	alg, ok := algorithms[opts.TSIGAlgorithm]
	if !ok {
		return nil, fmt.Errorf("publish: unknown TSIG algorithm %q", opts.TSIGAlgorithm)
	}
	if b, err := base64.StdEncoding.DecodeString(secret); err != nil || len(b) == 0 {
		return nil, errors.New("publish: the TSIG secret is not base64")
	}
	key := strings.ToLower(dns.Fqdn(opts.TSIGKeyName))
	return &Updater{
		opts: opts,
		alg:  alg,
		key:  key,
		client: &dns.Client{
			Net:        "tcp",
			Timeout:    opts.Timeout,
			TsigSecret: map[string]string{key: secret},
		},
	}, nil
}

// Server is the server updates are sent to.
func (u *Updater) Server() string { return u.opts.Server }

// zoneFor is the zone that holds rec.
func (u *Updater) zoneFor(rec Record) (string, error) {
	zone := u.opts.Zone
	if zone == "" {
		zone = rec.Domain
	}
	zone = strings.ToLower(dns.Fqdn(zone))
	name := strings.ToLower(dns.Fqdn(rec.Name))
	if !dns.IsSubDomain(zone, name) {
		return "", fmt.Errorf("the record %s is outside zone %s: set keys.publish.zone to the zone that holds it", strings.TrimSuffix(name, "."), strings.TrimSuffix(zone, "."))
	}
	return zone, nil
}

// Publish makes rec the only TXT record at its name: it deletes the TXT
// RRset there (RFC 2136 section 2.5.2) and adds rec (section 2.5.1), in
// one update.
func (u *Updater) Publish(ctx context.Context, rec Record) error {
	zone, err := u.zoneFor(rec)
	if err != nil {
		return &Error{Op: "publishing", Name: rec.Name, Server: u.opts.Server, Err: err}
	}
	txt := &dns.TXT{
		Hdr: dns.RR_Header{Name: dns.Fqdn(rec.Name), Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: uint32(u.opts.TTL / time.Second)},
		Txt: splitString(rec.Value),
	}
	m := new(dns.Msg).SetUpdate(zone)
	m.RemoveRRset([]dns.RR{txt})
	m.Insert([]dns.RR{txt})
	return u.exchange(ctx, "publishing", rec.Name, zone, m)
}

// Delete removes the TXT RRset at rec's name (RFC 2136 section 2.5.2).
// Deleting what is not there succeeds: the update is idempotent.
func (u *Updater) Delete(ctx context.Context, rec Record) error {
	zone, err := u.zoneFor(rec)
	if err != nil {
		return &Error{Op: "deleting", Name: rec.Name, Server: u.opts.Server, Err: err}
	}
	m := new(dns.Msg).SetUpdate(zone)
	m.RemoveRRset([]dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: dns.Fqdn(rec.Name), Rrtype: dns.TypeTXT, Class: dns.ClassINET}}})
	return u.exchange(ctx, "deleting", rec.Name, zone, m)
}

func (u *Updater) exchange(ctx context.Context, op, name, zone string, m *dns.Msg) error {
	// RFC 8945 section 10: 300 seconds of clock difference allowed.
	m.SetTsig(u.key, u.alg, 300, time.Now().Unix())
	e := &Error{Op: op, Name: name, Server: u.opts.Server, Zone: strings.TrimSuffix(zone, "."), KeyName: strings.TrimSuffix(u.key, ".")}
	resp, _, err := u.client.ExchangeContext(ctx, m, u.opts.Server)
	if errors.Is(err, dns.ErrAuth) && resp != nil {
		// A NOTAUTH answer carries an unsigned TSIG record (RFC 8945
		// section 5.3.2), which miekg/dns reports as ErrAuth: the
		// server refused our key, which the RCODE says best.
		err = nil
	}
	if err != nil {
		e.Err = err
		switch {
		case errors.Is(err, dns.ErrSig), errors.Is(err, dns.ErrTime), errors.Is(err, dns.ErrKeyAlg), errors.Is(err, dns.ErrSecret):
			// The answer's TSIG did not verify: a wrong secret or clock,
			// or an answer not from the server.
			e.Kind = KindTSIG
		default:
			e.Kind = KindNetwork
		}
		return e
	}
	if resp.Rcode == dns.RcodeSuccess {
		return nil
	}
	e.Rcode = resp.Rcode
	if t := resp.IsTsig(); t != nil && t.Error != dns.RcodeSuccess {
		e.TSIGError = int(t.Error)
	}
	return e
}

// splitString cuts s into character-strings of at most 255 bytes (RFC
// 1035 section 3.3.14); DKIM verifiers join them (RFC 6376 section
// 3.6.2.2).
func splitString(s string) []string {
	var out []string
	for len(s) > 255 {
		out = append(out, s[:255])
		s = s[255:]
	}
	return append(out, s)
}

// Kind classifies an Error.
type Kind int

const (
	// KindRcode: the server answered with an error RCODE.
	KindRcode Kind = iota
	// KindNetwork: no answer (timeout, connection refused).
	KindNetwork
	// KindTSIG: the answer's signature did not verify.
	KindTSIG
)

// Error is a failed update. Its text says what to do.
type Error struct {
	Op, Name, Server, Zone, KeyName string
	Kind                            Kind
	// Rcode is the server's answer (KindRcode), TSIGError the TSIG
	// error field of its answer (RFC 8945 section 5.3.2), if any.
	Rcode, TSIGError int
	Err              error
}

// Temporary reports whether trying again later may succeed: no answer, or
// SERVFAIL. A refusal or a TSIG failure needs the configuration fixed.
func (e *Error) Temporary() bool {
	return e.Kind == KindNetwork || (e.Kind == KindRcode && e.Err == nil && e.Rcode == dns.RcodeServerFailure)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

func (e *Error) Error() string {
	head := fmt.Sprintf("%s the DKIM record %s at %s failed", e.Op, strings.TrimSuffix(e.Name, "."), e.Server)
	if e.Zone == "" && e.Err != nil {
		return head + ": " + e.Err.Error()
	}
	switch e.Kind {
	case KindNetwork:
		return fmt.Sprintf("%s: %v: check keys.publish.server, or try again later", head, e.Err)
	case KindTSIG:
		return fmt.Sprintf("%s: the answer's TSIG signature does not verify (%v): check the secret of key %s and that both clocks are right", head, e.Err, e.KeyName)
	}
	rcode := dns.RcodeToString[e.Rcode]
	if rcode == "" {
		rcode = fmt.Sprintf("RCODE %d", e.Rcode)
	}
	switch e.Rcode {
	case dns.RcodeNotAuth:
		// RFC 8945 section 5.3.2: NOTAUTH with a TSIG error is a key
		// the server rejects; without one (RFC 2136 section 2.2), the
		// server is not authoritative for the zone.
		if e.TSIGError == dns.RcodeSuccess {
			return fmt.Sprintf("%s: the server is not authoritative for zone %s (%s): set keys.publish.zone and keys.publish.server to the zone's primary", head, e.Zone, rcode)
		}
		// Knot also answers BADKEY when no ACL lets the key make this
		// update.
		return fmt.Sprintf("%s: the server does not accept TSIG key %s for this update (%s, %s): check keys.publish.tsig_key_name, tsig_algorithm and the secret against the server's key, that its ACL lets the key update TXT records at this name, and that both clocks are right", head, e.KeyName, rcode, dns.RcodeToString[e.TSIGError])
	case dns.RcodeRefused:
		return fmt.Sprintf("%s: the server refused the update (%s): allow TSIG key %s to update zone %s in the server's configuration", head, rcode, e.KeyName, e.Zone)
	case dns.RcodeNotZone:
		return fmt.Sprintf("%s: %s is not a zone the server is primary for (%s): set keys.publish.zone and keys.publish.server to the zone's primary", head, e.Zone, rcode)
	case dns.RcodeServerFailure:
		return fmt.Sprintf("%s: the server failed (%s): try again later, or see the server's log", head, rcode)
	}
	return fmt.Sprintf("%s: the server answered %s: see the server's log", head, rcode)
}
