package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"
)

// CA is a certificate authority for tests of verified TLS: its leaf
// certificates verify against Pool and no other.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

// NewCA makes a CA valid for a day around now.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: "dkimrelay test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	cert := create(t, tmpl, tmpl, key, key)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{cert: cert, key: key, pool: pool}
}

// Pool is the pool of roots that trusts the CA.
func (ca *CA) Pool() *x509.CertPool { return ca.pool }

// PEM is the CA's certificate in PEM, for a CA file.
func (ca *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
}

// Cert is the CA's own certificate: a DANE-TA(2) trust anchor.
func (ca *CA) Cert() *x509.Certificate { return ca.cert }

// Issue makes a server certificate for names, each a DNS name or an IP
// address, signed by the CA, valid from an hour ago for a day. The chain
// it serves includes the CA, as RFC 7672 section 3.2.1 asks of servers
// with DANE-TA records.
func (ca *CA) Issue(t testing.TB, names ...string) tls.Certificate {
	t.Helper()
	return ca.IssueBetween(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), names...)
}

// Expired issues a certificate for names that expired yesterday.
func (ca *CA) Expired(t testing.TB, names ...string) tls.Certificate {
	t.Helper()
	return ca.IssueBetween(t, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour), names...)
}

// IssueBetween is Issue with the given validity.
func (ca *CA) IssueBetween(t testing.TB, notBefore, notAfter time.Time, names ...string) tls.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	leaf := create(t, tmpl, ca.cert, key, ca.key)
	return tls.Certificate{Certificate: [][]byte{leaf.Raw, ca.cert.Raw}, PrivateKey: key, Leaf: leaf}
}

// ServerCert is a certificate for names from a CA of its own, and the pool
// that trusts it (and nothing else).
func ServerCert(t testing.TB, names ...string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	ca := NewCA(t)
	return ca.Issue(t, names...), ca.Pool()
}

func serial(t testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// create makes the certificate of tmpl for key, signed by parent's signer.
func create(t testing.TB, tmpl, parent *x509.Certificate, key, signer *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
