package delivery

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testCA is a certificate authority made for one test: the roots an
// administrator would put in tls_ca_file, or a DANE-TA(2) anchor.
type testCA struct {
	t      testing.TB
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	pool   *x509.CertPool
	serial int64
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dkimrelay test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{t: t, cert: cert, key: key, pool: pool, serial: 1}
}

// issue makes a server certificate for names valid from notBefore to
// notAfter; the chain it serves includes the CA, as RFC 7672 section 3.2.1
// asks of DANE-TA servers.
func (ca *testCA) issue(names []string, notBefore, notAfter time.Time) tls.Certificate {
	ca.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		ca.t.Fatal(err)
	}
	ca.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		ca.t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		ca.t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key, Leaf: leaf}
}

// valid issues a certificate for names valid now.
func (ca *testCA) valid(names ...string) tls.Certificate {
	return ca.issue(names, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
}

// tlsa is the TLSA record "usage selector matchingType" for cert, computed
// the way a zone's signer would.
func tlsa(t testing.TB, usage, selector, matchingType int, cert *x509.Certificate) *dns.TLSA {
	t.Helper()
	r := &dns.TLSA{Hdr: dns.RR_Header{Name: "_25._tcp.mx1.test.", Class: dns.ClassINET, Ttl: 300}}
	if err := r.Sign(usage, selector, matchingType, cert); err != nil {
		t.Fatal(err)
	}
	return r
}
