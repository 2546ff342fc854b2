package relay

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-smtp"

	"dkimrelay/authcheck"
	"dkimrelay/config"
	"dkimrelay/events"
	"dkimrelay/resolver"
)

// spfChecker holds the sender checks that depend on DNS: SPF at MAIL FROM
// (RFC 7208) and DMARC alignment once the From: field is known (RFC 7489,
// see dmarc.go). Each refuses, before the message is accepted, what the
// receiver would reject, so the application can still report it.
type spfChecker struct {
	policy string // "reject", "warn" or "off"
	ips    []net.IP
	spf    *authcheck.SPF
	dmarc  *authcheck.DMARC
	log    *slog.Logger
}

func newSPFChecker(cfg *config.Config, res *resolver.Resolver, log *slog.Logger) (*spfChecker, error) {
	c := &spfChecker{
		policy: cfg.Delivery.SPFPolicy,
		spf:    authcheck.NewSPF(res, cfg.Hostname, nil),
		dmarc:  authcheck.NewDMARC(res, nil),
		log:    log,
	}
	if c.policy == "off" {
		return c, nil
	}
	ips, note, err := authcheck.EgressIPs(cfg.Delivery.EgressIPs, cfg.Delivery.Mode)
	if err != nil {
		return nil, err
	}
	c.ips = ips
	if note != "" {
		if cfg.Delivery.Mode == "smarthost" {
			log.Info("spf", "detail", note)
		} else {
			log.Warn("spf", "detail", note)
		}
	}
	addrs := make([]string, len(ips))
	for i, ip := range ips {
		addrs[i] = ip.String()
	}
	log.Info("egress", "ips", addrs, "spf_policy", c.policy)
	return c, nil
}

// check runs SPF's check_host for each egress address against the MAIL
// FROM domain; a non-nil error is the *smtp.SMTPError to answer.
func (c *spfChecker) check(ctx context.Context, from string) error {
	if c.policy == "off" || len(c.ips) == 0 {
		return nil
	}
	for _, ip := range c.ips {
		r := c.spf.Check(ctx, ip, from)
		events.SPFCheck{Domain: r.Domain, IP: ip.String(), Result: string(r.Result),
			Detail: r.Reason(), Cached: r.Cached, Policy: c.policy}.Log(c.log)
		if c.policy != "reject" {
			continue
		}
		if err := spfReply(r); err != nil {
			return err
		}
	}
	return nil
}

// spfReply is the answer to a result under spf_policy = "reject", nil when
// the message may go on. None and neutral pass: the receiver has nothing
// to reject on (RFC 7208 sections 8.1 and 8.2).
func spfReply(r authcheck.SPFResult) *smtp.SMTPError {
	switch r.Result {
	case spf.Fail, spf.SoftFail:
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: fmt.Sprintf(
			"SPF %s: %s is not authorized to send for %s; add %q to the SPF record of %s",
			r.Result, r.IP, r.Domain, r.Mechanism(), r.Domain)}
	case spf.TempError:
		// RFC 3463: X.4.3 is a directory (here DNS) server failure.
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 3}, Message: fmt.Sprintf(
			"SPF check of %s failed temporarily (%s), try again later", r.Domain, r.Reason())}
	case spf.PermError:
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: fmt.Sprintf(
			"SPF permerror for %s: %s; `dkimrelay check --domain %s` shows how to fix it", r.Domain, r.Reason(), r.Domain)}
	}
	return nil
}
