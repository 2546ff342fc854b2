package suppress

import (
	"testing"

	"dkimrelay/relay/outcome"
)

func TestClassify(t *testing.T) {
	const mx = "mx.example.net"
	remote := func(code int, enh, text string) outcome.Outcome { return outcome.Remote(mx, code, enh, text) }
	tests := []struct {
		name string
		o    outcome.Outcome
		want Verdict
	}{
		{"gmail no such user", remote(550, "5.1.1", "550 5.1.1 The email account that you tried to reach does not exist."), NoMailbox},
		{"outlook recipient not found", remote(550, "5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"), NoMailbox},
		{"domino not listed", remote(550, "5.1.1", "550 5.1.1 User not listed in public Name & Address Book"), NoMailbox},
		{"null MX", outcome.Local(outcome.Permanent, "5.1.10", "domain example.com does not accept mail (null MX)"), NoMailbox},
		{"NXDOMAIN", outcome.Local(outcome.Permanent, "5.1.2", "domain nowhere.example does not exist (NXDOMAIN)"), NoMailbox},
		{"no enhanced code, user unknown", remote(550, "", "550 <x@example.net>: User unknown in virtual mailbox table"), NoMailbox},
		{"no enhanced code, no such user", remote(550, "", "550 no such user here"), NoMailbox},
		{"no enhanced code, mailbox unavailable", remote(550, "", "550 Requested action not taken: mailbox unavailable"), NoMailbox},
		{"blocklist 5.7.1", remote(550, "5.7.1", "550 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using Spamhaus"), SenderBlocked},
		{"5.7.26 DMARC", remote(550, "5.7.26", "550 5.7.26 Unauthenticated email from example.org is not accepted due to domain's DMARC policy"), SenderBlocked},
		{"blocklist without enhanced code", remote(554, "", "554 Your IP 192.0.2.1 is listed on bl.spamcop.net"), SenderBlocked},
		{"blocklist text with 5.1.1 never suppresses", remote(550, "5.1.1", "550 5.1.1 blocked: sender on our blocklist"), SenderBlocked},
		{"sender address refused 5.1.8", remote(553, "5.1.8", "553 5.1.8 Domain of sender address does not exist"), Other},
		{"too large", remote(552, "5.3.4", "552 5.3.4 Message size exceeds fixed limit"), Other},
		{"no enhanced code, other text", remote(554, "", "554 Transaction failed"), Other},
		{"temporary", remote(450, "4.2.1", "450 4.2.1 mailbox busy"), Other},
		{"delivered", remote(250, "2.0.0", "250 ok"), Other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.o); got != tt.want {
				t.Errorf("Classify(%+v) = %v, want %v", tt.o, got, tt.want)
			}
		})
	}
}
