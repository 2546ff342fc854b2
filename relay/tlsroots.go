package relay

import (
	"crypto/x509"
	"fmt"
	"os"
)

// trustedRoots are the roots verified TLS trusts: the system's, plus the
// certificates of delivery.tls_ca_file when set (nil: the system's alone).
func trustedRoots(caFile string) (*x509.CertPool, error) {
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
