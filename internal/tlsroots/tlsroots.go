// Package tlsroots loads the roots verified TLS trusts: the system's plus
// delivery.tls_ca_file.
package tlsroots

import (
	"crypto/x509"
	"fmt"
	"os"
)

// Load returns the system's roots plus the certificates of caFile, or nil
// (the system's alone) when caFile is "".
func Load(caFile string) (*x509.CertPool, error) {
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("delivery.tls_ca_file: %w", err)
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool() // no system roots on this host: the file's alone
	}
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("delivery.tls_ca_file %s holds no PEM certificate: put the CA certificates to trust there, in PEM", caFile)
	}
	return roots, nil
}
