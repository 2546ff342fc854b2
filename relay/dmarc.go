package relay

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-smtp"

	"dkimrelay/authcheck"
)

// CheckAlignment implements submission.Policy: once the From: domain is
// known, it must align (RFC 7489 section 3.1) with the domain the relay
// signs for, d=, and with the MAIL FROM domain, under the modes of the From:
// domain's DMARC record. DMARC needs only one of the two to pass, but the
// relay asks for both: the SPF path keeps the message passing when a list
// or forwarder breaks its signature. A non-nil error is the
// *smtp.SMTPError to answer.
func (r *Relay) CheckAlignment(ctx context.Context, mailFrom, fromDomain string) error {
	var dkimDomains []string
	for _, k := range r.SigningKeys(fromDomain) {
		if !containsFold(dkimDomains, k.Domain) {
			dkimDomains = append(dkimDomains, k.Domain)
		}
	}
	if len(dkimDomains) == 0 {
		// The session refuses the message for want of a key, with a
		// reply that says so.
		return nil
	}
	return r.spf.alignment(ctx, mailFrom, fromDomain, dkimDomains)
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

func (c *spfChecker) alignment(ctx context.Context, mailFrom, fromDomain string, dkimDomains []string) error {
	if c.policy == "off" {
		return nil
	}
	mailFromDomain := mailFrom[strings.LastIndexByte(mailFrom, '@')+1:]
	policy, err := c.dmarc.Lookup(ctx, fromDomain)
	a := authcheck.CheckAlignment(policy, fromDomain, mailFromDomain, dkimDomains)
	problems := a.Problems()
	attrs := []any{"domain", a.FromDomain, "mail_from_domain", a.MailFromDomain, "dkim_domains", dkimDomains,
		"dkim_aligned", a.DKIMAligned, "spf_aligned", a.SPFAligned, "policy", c.policy}
	switch {
	case errors.Is(err, authcheck.ErrDMARCTemporary):
		c.log.Warn("dmarc", append(attrs, "result", "temperror", "detail", err.Error())...)
		if c.policy == "reject" {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 3}, Message: fmt.Sprintf(
				"DMARC record of %s could not be looked up: %v", a.FromDomain, err)}
		}
		return nil
	case err != nil:
		// No record, or one receivers ignore (RFC 7489 section 6.6.3):
		// no DMARC policy applies, so nothing would be rejected for it.
		detail := err.Error()
		if errors.Is(err, authcheck.ErrNoDMARC) {
			detail += fmt.Sprintf("; publish one, e.g. _dmarc.%s. IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@%s\"", authcheck.OrgDomain(a.FromDomain), authcheck.OrgDomain(a.FromDomain))
		}
		if len(problems) > 0 {
			detail += "; " + strings.Join(problems, "; ")
		}
		c.log.Warn("dmarc", append(attrs, "result", "none", "detail", detail)...)
		return nil
	}
	attrs = append(attrs, "record", policy.At, "p", string(policy.Record.Policy))
	if len(problems) == 0 {
		c.log.Debug("dmarc", append(attrs, "result", "aligned")...)
		return nil
	}
	c.log.Warn("dmarc", append(attrs, "result", "misaligned", "detail", strings.Join(problems, "; "))...)
	if c.policy != "reject" {
		return nil
	}
	// One problem a line keeps each reply line within RFC 5321's 512
	// octets (section 4.5.3.1.5).
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "DMARC: " + strings.Join(problems, "\nDMARC: ")}
}
