// Package testca is a certificate authority made for one test: the roots
// an administrator would put in tls_ca_file, a DANE-TA(2) trust anchor,
// and the server certificates (right name, wrong name, expired) that tests
// of verified TLS present over loopback.
package testca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// CA issues server certificates.
type CA struct {
	Cert *x509.Certificate
	Pool *x509.CertPool // holds Cert alone

	t      testing.TB
	key    *ecdsa.PrivateKey
	mu     sync.Mutex
	serial int64
}

// New makes a CA valid from an hour ago for a day.
func New(t testing.TB) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
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
	return &CA{Cert: cert, Pool: pool, t: t, key: key, serial: 1}
}

// Issue makes a server certificate for names valid from notBefore to
// notAfter. The chain it serves includes the CA, as RFC 7672 section
// 3.2.1 asks of servers with DANE-TA records.
func (ca *CA) Issue(names []string, notBefore, notAfter time.Time) tls.Certificate {
	ca.t.Helper()
	ca.mu.Lock()
	ca.serial++
	serial := ca.serial
	ca.mu.Unlock()
	key := newKey(ca.t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leaf := create(ca.t, tmpl, ca.Cert, key, ca.key)
	return tls.Certificate{Certificate: [][]byte{leaf.Raw, ca.Cert.Raw}, PrivateKey: key, Leaf: leaf}
}

// Valid issues a certificate for names valid now.
func (ca *CA) Valid(names ...string) tls.Certificate {
	ca.t.Helper()
	return ca.Issue(names, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
}

// Expired issues a certificate for names that expired yesterday.
func (ca *CA) Expired(names ...string) tls.Certificate {
	ca.t.Helper()
	return ca.Issue(names, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
}

// PEM is the CA certificate as a tls_ca_file holds it.
func (ca *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// SelfSigned makes a certificate for names that no CA issued.
func SelfSigned(t testing.TB, names ...string) tls.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: names[0]},
		DNSNames:              names,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	cert := create(t, tmpl, tmpl, key, key)
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

// TLSA is the record "usage selector matchingType" for cert at owner, as a
// zone's signer computes it.
func TLSA(t testing.TB, owner string, usage, selector, matchingType int, cert *x509.Certificate) *dns.TLSA {
	t.Helper()
	r := &dns.TLSA{Hdr: dns.RR_Header{Name: dns.Fqdn(owner), Rrtype: dns.TypeTLSA, Class: dns.ClassINET, Ttl: 300}}
	if err := r.Sign(usage, selector, matchingType, cert); err != nil {
		t.Fatal(err)
	}
	return r
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

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
