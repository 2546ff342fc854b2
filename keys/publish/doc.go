// Package publish writes and deletes DKIM key records in DNS by dynamic
// update (RFC 2136) signed with TSIG (RFC 8945), so that key rotation needs
// no person to edit a zone.
//
// An update for a key replaces the whole TXT RRset at
// SELECTOR._domainkey.DOMAIN with the key's record, and deleting removes
// that RRset: the name belongs to the key, and RFC 6376 section 3.6.2.2
// leaves a name with several key records undefined. Both are one update
// message, which the server applies entirely or not at all (RFC 2136
// section 3.4.2). Updates go over TCP: a long RSA record and the TSIG
// record do not fit the 512 bytes of plain UDP.
//
// Which server, zone and TSIG key to use is configured in the
// [keys.publish] table; the secret is read from a file only its owner can
// read (see ReadSecret) and never appears in arguments, logs or errors.
package publish
