// Package authcheck answers, before a message leaves, the questions a
// receiver will ask of it: does the MAIL FROM domain's SPF record authorize
// the address the relay sends from (RFC 7208), and does the From: domain
// align with the DKIM and envelope domains as its DMARC record requires
// (RFC 7489 section 3.1)?
//
// The relay asks at submission time, so a message that would fail is
// refused while the application can still report it; `dkimrelay check`
// asks on the administrator's behalf and says which record to fix. Both
// use the relay's resolver, so dns.servers is honoured.
package authcheck
