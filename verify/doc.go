// Package verify checks a message as its receiver saw it: the DKIM
// signatures (RFC 6376 section 6), SPF for the connecting address and the
// envelope sender (RFC 7208) and DMARC alignment of the From: domain (RFC
// 7489 section 4.2), and says in plain words why each failed check failed:
// the body was modified in transit, a header field was added after
// signing, the selector is not published, the published key is not the one
// that signed, and so on.
//
// The signatures are verified by github.com/emersion/go-msgauth/dkim; this
// package reads its verdicts and, where the verdict alone cannot tell the
// causes apart, looks further: it removes header fields one at a time to
// find one added after signing, and for RSA signatures it opens the
// signature with the published key to tell a changed header field (the
// key opens it, the digest differs) from a key mismatch (the key does not
// open it).
//
// DNS questions go through a TXT lookup function, in the relay through the
// resolver package so dns.servers is honoured.
package verify
