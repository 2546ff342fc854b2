// Package dnscheck is the logic of `dkimrelay check`: it looks at what DNS
// says about a sending domain and the relay's addresses, as receivers will,
// and says for each check whether it passes, and if not, the record to
// publish or the setting to change.
//
// The checks: SPF (the record, its DNS lookup count, and whether it
// authorizes each egress address, RFC 7208), DKIM (each active and pending
// selector published and matching, RFC 6376; key sizes, RFC 8301), DMARC
// (RFC 7489), reverse DNS of the egress addresses, the domain's MX (so
// bounces come back), whether outbound port 25 gets through at all, and, as
// information, MTA-STS (RFC 8461) and TLS-RPT (RFC 8460).
package dnscheck
