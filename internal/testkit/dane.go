package testkit

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// SelfSigned makes a certificate for DNS names that no CA issued.
func SelfSigned(t testing.TB, names ...string) tls.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: names[0]},
		DNSNames:              names,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	leaf := create(t, tmpl, tmpl, key, key)
	return tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
}

// TLSA is the record "usage selector matchingType" for cert at owner
// (RFC 6698 section 2), as a zone's signer computes it.
func TLSA(t testing.TB, owner string, usage, selector, matchingType int, cert *x509.Certificate) *dns.TLSA {
	t.Helper()
	r := &dns.TLSA{Hdr: dns.RR_Header{Name: dns.Fqdn(owner), Rrtype: dns.TypeTLSA, Class: dns.ClassINET, Ttl: 300}}
	if err := r.Sign(usage, selector, matchingType, cert); err != nil {
		t.Fatal(err)
	}
	return r
}
