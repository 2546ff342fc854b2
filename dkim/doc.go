// Package dkim signs outgoing messages with DKIM (RFC 6376), with RSA-SHA256
// and Ed25519-SHA256 (RFC 8463) keys. The body is canonicalized and hashed
// once for all keys; the signature fields are written exactly as
// github.com/emersion/go-msgauth/dkim writes them, which the tests use to
// verify every signature and to check, message by message, that both
// signers agree.
//
// The message is handled as a stream so that memory stays bounded whatever
// the size of the body:
//
//	br := bufio.NewReader(data)             // CRLF line endings
//	h, err := dkim.ReadHeader(br, maxHeaderBytes)
//	// ... check h.Values("From") ...
//	h.EnsureDate(time.Now())
//	h.EnsureMessageID(domain)
//	s, err := dkim.NewSigner(keys, h)       // h is final from here on
//	h.WriteTo(spool)
//	io.Copy(io.MultiWriter(spool, s), br)   // the body
//	sigs, err := s.Sign()                   // one DKIM-Signature field per key
//
// [Header] keeps every field byte for byte as received, so what is written
// to the spool is exactly what was signed. Fields the relay adds (Date,
// Message-ID) are prepended.
//
// Signatures use relaxed/relaxed canonicalization (RFC 6376 section 3.4) and
// cover the header fields RFC 6376 section 5.4.1 recommends plus the MIME
// and list-management fields; the fields an attacker could usefully add to a
// replayed message (From, Sender, To, Cc, Subject, Date, Reply-To, Message-ID and
// the List-* fields) are oversigned, as RFC 6376 section 8.15 suggests, so
// that adding one breaks the signature.
//
// The package also formats and parses the DNS TXT records that publish the
// public keys (RFC 6376 section 3.6.1, RFC 8463 section 4.2).
package dkim
