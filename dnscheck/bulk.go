package dnscheck

import (
	"fmt"
	"strings"

	"dkimrelay/config"
)

// BulkMail is what the relay's log says about its recent bulk-class mail,
// for the unsubscribe line of the bulk sender list.
type BulkMail struct {
	Since string // the period counted, for the message ("7 days")
	// Messages is how many bulk-class messages were accepted; Missing
	// how many of them lacked List-Unsubscribe or List-Unsubscribe-Post
	// (RFC 8058), or were not signed over them.
	Messages, Missing int
}

// checkBulkSender adds the bulk sender requirements of Gmail and Yahoo
// (February 2024) and Outlook.com (May 2025), one line each, from the
// checks run before and from o.Bulk. They apply once a domain sends about
// 5,000 messages a day to one of them (the relay's per-provider daily
// counts show it); below that they are good practice, so a line that is
// not met is a warning, never a failure.
func checkBulkSender(r *Report, o Options) {
	line := func(check string, ok bool, good, bad string) {
		res := Result{Check: check, Status: Pass, Message: good}
		if !ok {
			res.Status, res.Message = Warning, bad
		}
		r.add(res)
	}
	smarthost := o.Mode == config.ModeSmarthost

	spfOK, spfSeen := allPass(r, "spf", "spf-lookups", "spf-ip")
	dkimOK, dkimSeen := allPass(r, "dkim")
	line("bulk-auth", spfOK && dkimOK && spfSeen && dkimSeen,
		"bulk senders: SPF passes for every egress address and DKIM for every key",
		"bulk senders must pass both SPF and DKIM: fix the spf and dkim lines above")

	dmarcOK, dmarcSeen := allPass(r, "dmarc")
	line("bulk-dmarc", dmarcOK && dmarcSeen,
		fmt.Sprintf("bulk senders: DMARC is published (p=none or stricter) and aligned, the relay signing as %s and sending from its addresses", o.Domain),
		"bulk senders must publish DMARC (at least p=none) aligned with the From: domain: fix the dmarc line above")

	rdnsOK, rdnsSeen := allPass(r, "rdns")
	switch {
	case smarthost:
		line("bulk-rdns", true, "bulk senders: forward-confirmed reverse DNS is the smarthost's to provide", "")
	default:
		line("bulk-rdns", rdnsOK && rdnsSeen,
			fmt.Sprintf("bulk senders: every egress address has forward-confirmed reverse DNS naming %s", o.Hostname),
			fmt.Sprintf("bulk senders need forward-confirmed reverse DNS for each egress address, naming the EHLO hostname %s: fix the rdns lines above", o.Hostname))
	}

	tls := "bulk senders: TLS 1.2 or later with every receiver that offers STARTTLS, as Gmail, Outlook and Yahoo all do"
	if smarthost {
		tls = "bulk senders: TLS 1.2 or later to the smarthost, which must keep TLS to the receivers"
	}
	line("bulk-tls", true, tls, "")

	keysOK, keysSeen := allPass(r, "key-size")
	line("bulk-keys", keysOK && keysSeen,
		"bulk senders: every DKIM key is Ed25519 or RSA of 2048 bits or more",
		"bulk senders' DKIM keys must be 2048 bits or more: rotate the keys named in the key-size lines above")

	switch b := o.Bulk; {
	case b == nil || b.Messages == 0:
		r.add(Result{Check: "bulk-unsub", Status: Info, Message: "bulk senders need RFC 8058 one-click unsubscribe (List-Unsubscribe and List-Unsubscribe-Post, both signed) in marketing and announcement mail; no bulk-class mail in the log to count"})
	default:
		line("bulk-unsub", b.Missing == 0,
			fmt.Sprintf("bulk senders: all %d bulk-class messages of the last %s carried both RFC 8058 one-click unsubscribe fields, signed", b.Messages, b.Since),
			fmt.Sprintf("%d of the %d bulk-class messages of the last %s lacked List-Unsubscribe or List-Unsubscribe-Post (RFC 8058): Gmail and Yahoo require both, signed, in bulk mail; see `dkimrelay logs --status accepted`", b.Missing, b.Messages, b.Since))
	}
}

// allPass reports whether every result of the named checks passed (or is
// only informational), and whether there was one.
func allPass(r *Report, checks ...string) (ok, seen bool) {
	ok = true
	for _, res := range r.Results {
		for _, c := range checks {
			if res.Check != c || strings.HasPrefix(res.Check, "bulk-") {
				continue
			}
			if res.Status != Info {
				seen = true
			}
			if res.Status == Fail || res.Status == Warning {
				ok = false
			}
		}
	}
	return ok, seen
}
