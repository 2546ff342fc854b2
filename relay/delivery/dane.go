package delivery

import (
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// The TLSA certificate usages an SMTP client uses (RFC 6698 section 2.1.1;
// RFC 7218 names). PKIX-TA(0) and PKIX-EE(1) are not among them.
const (
	tlsaDANETA = 2
	tlsaDANEEE = 3
)

// UsableTLSA returns the records an SMTP client can authenticate with
// (RFC 7672 section 3.1): usage DANE-TA(2) or DANE-EE(3), selector
// Cert(0) or SPKI(1), matching type Full(0), SHA2-256(1) or SHA2-512(2)
// with a digest of the right length. PKIX-TA(0) and PKIX-EE(1) are
// unusable (RFC 7672 section 3.1.3). When records exist but none is usable,
// TLS is still required, without authentication (TLSEncrypt).
func UsableTLSA(records []*dns.TLSA) []*dns.TLSA {
	var out []*dns.TLSA
	for _, r := range records {
		if usableTLSA(r) {
			out = append(out, r)
		}
	}
	return out
}

func usableTLSA(r *dns.TLSA) bool {
	if r.Usage != tlsaDANETA && r.Usage != tlsaDANEEE {
		return false
	}
	if r.Selector > 1 {
		return false
	}
	switch r.MatchingType {
	case 0:
		return r.Certificate != ""
	case 1:
		return len(r.Certificate) == 64
	case 2:
		return len(r.Certificate) == 128
	}
	return false
}

// tlsaMatches reports whether cert is the one r names.
func tlsaMatches(r *dns.TLSA, cert *x509.Certificate) bool {
	got, err := dns.CertificateToDANE(r.Selector, r.MatchingType, cert)
	return err == nil && strings.EqualFold(got, r.Certificate)
}

// verifyDANE authenticates the chain certs with records (RFC 7672 section
// 3.1). DANE-EE(3) matches the leaf alone: its names and dates do not
// matter (section 3.1.1). DANE-TA(2) matches a certificate of the chain the
// server sent, which must then issue the leaf, and the leaf must be valid
// for one of names (section 3.1.2 and 3.2.3). It returns how the chain was
// authenticated and, for DANE-TA, the name.
func verifyDANE(certs []*x509.Certificate, records []*dns.TLSA, names []string) (by, name string, err error) {
	if len(certs) == 0 {
		return "", "", &certError{"the server sent no certificate"}
	}
	leaf := certs[0]
	usable := false
	var taErr error
	for _, r := range records {
		if !usableTLSA(r) {
			continue
		}
		usable = true
		switch r.Usage {
		case tlsaDANEEE:
			if tlsaMatches(r, leaf) {
				return VerifiedDANEEE, "", nil
			}
		case tlsaDANETA:
			for _, ta := range certs {
				if !tlsaMatches(r, ta) {
					continue
				}
				if err := verifyFromAnchor(leaf, ta, certs[1:]); err != nil {
					taErr = err
					continue
				}
				n, err := matchName(leaf, names)
				if err != nil {
					taErr = err
					continue
				}
				return VerifiedDANETA, n, nil
			}
		}
	}
	switch {
	case !usable:
		return "", "", &certError{"no usable TLSA record (only PKIX-TA/PKIX-EE or unknown parameters)"}
	case taErr != nil:
		return "", "", &certError{"TLSA mismatch: " + taErr.Error()}
	}
	return "", "", &certError{"TLSA mismatch: no TLSA record matches the server's certificate chain"}
}

// verifyFromAnchor checks that leaf chains to the trust anchor ta through
// intermediates, at the current time. The leaf's names are the caller's to
// check.
func verifyFromAnchor(leaf, ta *x509.Certificate, intermediates []*x509.Certificate) error {
	opts := x509.VerifyOptions{
		Roots:         x509.NewCertPool(),
		Intermediates: x509.NewCertPool(),
		// DANE-TA trusts the anchor for whatever it issued; the
		// server-auth purpose is the web PKI's rule, not SMTP's.
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}
	opts.Roots.AddCert(ta)
	for _, c := range intermediates {
		opts.Intermediates.AddCert(c)
	}
	if _, err := leaf.Verify(opts); err != nil {
		return fmt.Errorf("the chain from the DANE-TA anchor does not verify: %w", chainError(err))
	}
	return nil
}
