package delivery

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"

	"github.com/miekg/dns"
)

// TLSLevel is how much TLS a session to a hop must have, from nothing to a
// certificate authenticated by DANE. The names follow Postfix's
// smtp_tls_security_level where they mean the same.
type TLSLevel int

const (
	// TLSOpportunistic uses STARTTLS when the server offers it, without
	// checking the certificate (RFC 7435 section 1.3), and goes on in
	// plaintext when it is not offered, declined, or the handshake
	// fails. Postfix's "may".
	TLSOpportunistic TLSLevel = iota
	// TLSPlaintext never starts TLS: the retry after an opportunistic
	// handshake failed.
	TLSPlaintext
	// TLSEncrypt requires TLS but does not authenticate the server
	// (RFC 7672 section 3.1.3: TLSA records present, none usable).
	// Postfix's "encrypt".
	TLSEncrypt
	// TLSVerifyNames requires TLS and a certificate that chains to a
	// trusted root (Config.RootCAs) and is valid for
	// one of TLSRequirement.Names (RFC 6125; RFC 8461 section 4.2).
	// Postfix's "secure".
	TLSVerifyNames
	// TLSVerifyTLSA requires TLS and a certificate matching one of
	// TLSRequirement.TLSA (RFC 7672 section 3). Postfix's "dane-only".
	TLSVerifyTLSA
)

func (l TLSLevel) String() string {
	switch l {
	case TLSPlaintext:
		return "plaintext"
	case TLSEncrypt:
		return "encrypt"
	case TLSVerifyNames:
		return "verify"
	case TLSVerifyTLSA:
		return "dane"
	default:
		return "opportunistic"
	}
}

// required reports whether the session must not go on without TLS.
func (l TLSLevel) required() bool { return l >= TLSEncrypt }

// refuses reports whether r stops a session that does not meet it.
func (r *TLSRequirement) refuses() bool { return r.Level.required() && !r.ReportOnly }

// TLSRequirement is what a session to one hop needs from TLS. TLS 1.2 is
// the minimum at every level.
type TLSRequirement struct {
	Level TLSLevel
	// Implicit starts TLS on connect (RFC 8314 section 3) rather than
	// with STARTTLS (RFC 3207). It needs a Level that requires TLS.
	Implicit bool
	// Names the certificate may be valid for (TLSVerifyNames), or the
	// reference identifiers of DANE-TA(2) records (RFC 7672 section
	// 3.2.3). Empty: the hop's host name.
	Names []string
	// TLSA records for TLSVerifyTLSA, from a DNSSEC-validated answer
	// (RFC 7672 section 2.2). Records that are not usable are ignored;
	// see UsableTLSA.
	TLSA []*dns.TLSA
	// ReportOnly checks as Level says but never refuses a session: what
	// would have failed is noted in TLSInfo.Problem and the session goes
	// on as opportunistic TLS would (MTA-STS testing mode, RFC 8461
	// section 5).
	ReportOnly bool
}

// TLSInfo is what TLS a session got.
type TLSInfo struct {
	Version  string // "TLS1.3", "TLS1.2"; "" when the session was not encrypted
	Verified bool   // the certificate was authenticated
	// By says how the certificate was authenticated: "pkix" (a trusted
	// root and the name), "dane-ee" or "dane-ta" (RFC 7672 section
	// 3.1); "" when not.
	By string
	// Name is the name the certificate was found valid for (pkix,
	// dane-ta); "" otherwise.
	Name string
	// Problem is what a ReportOnly requirement found wrong: no
	// STARTTLS, or why the certificate would have been refused.
	Problem string
}

// Ways a certificate is authenticated, for TLSInfo.By.
const (
	VerifiedPKIX   = "pkix"
	VerifiedDANEEE = "dane-ee"
	VerifiedDANETA = "dane-ta"
)

// tlsConfig is the client configuration for one handshake with host under
// req. The verification the level asks for runs in VerifyConnection, which
// records its finding in info; Go's own verification is off because it
// knows one name only and nothing of DANE.
func (d *Deliverer) tlsConfig(host string, req TLSRequirement, info *TLSInfo) *tls.Config {
	cfg := &tls.Config{
		InsecureSkipVerify: true, // verified below, as req.Level asks
		MinVersion:         tls.VersionTLS12,
	}
	if net.ParseIP(host) == nil && !strings.HasPrefix(host, "[") {
		// SNI, so hosts serving several names pick the right
		// certificate.
		cfg.ServerName = host
	}
	names := req.Names
	if len(names) == 0 {
		names = []string{strings.Trim(host, "[]")}
	}
	switch req.Level {
	case TLSVerifyNames:
		roots := d.cfg.RootCAs
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			name, err := verifyPKIX(cs.PeerCertificates, names, roots)
			if err != nil {
				return report(req, info, err)
			}
			*info = TLSInfo{Verified: true, By: VerifiedPKIX, Name: name}
			return nil
		}
	case TLSVerifyTLSA:
		records := req.TLSA
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			by, name, err := verifyDANE(cs.PeerCertificates, records, names)
			if err != nil {
				return report(req, info, err)
			}
			*info = TLSInfo{Verified: true, By: by, Name: name}
			return nil
		}
	}
	return cfg
}

// report fails the handshake with err, or notes it when req only reports.
func report(req TLSRequirement, info *TLSInfo, err error) error {
	if !req.ReportOnly {
		return err
	}
	info.Problem = err.Error()
	return nil
}

// certError is a certificate the requirement refused, with the reason in
// words an administrator acts on.
type certError struct{ reason string }

func (e *certError) Error() string { return e.reason }

// verifyPKIX checks that the leaf of certs chains to roots (nil: the
// system's) and is valid for one of names; it returns that name.
func verifyPKIX(certs []*x509.Certificate, names []string, roots *x509.CertPool) (string, error) {
	if len(certs) == 0 {
		return "", &certError{"the server sent no certificate"}
	}
	leaf := certs[0]
	opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := leaf.Verify(opts); err != nil {
		return "", chainError(err)
	}
	return matchName(leaf, names)
}

// matchName returns the first of names leaf is valid for (RFC 6125
// section 6.4, wildcards included).
func matchName(leaf *x509.Certificate, names []string) (string, error) {
	for _, n := range names {
		if leaf.VerifyHostname(n) == nil {
			return n, nil
		}
	}
	has := leaf.DNSNames
	if len(has) == 0 && leaf.Subject.CommonName != "" {
		has = []string{leaf.Subject.CommonName}
	}
	return "", &certError{"certificate name mismatch: valid for " + strings.Join(has, ", ") +
		", not for " + strings.Join(names, " or ")}
}

// chainError words a failed chain verification.
func chainError(err error) error {
	var invalid x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return &certError{"certificate expired or not yet valid: " + strings.TrimPrefix(invalid.Error(), "x509: ")}
	case errors.As(err, &unknown):
		return &certError{"certificate signed by an unknown authority (self-signed, or a CA not in the system roots nor tls_ca_file)"}
	}
	return &certError{"certificate not trusted: " + strings.TrimPrefix(err.Error(), "x509: ")}
}
