package delivery

// Test peers: recording SMTP sinks (internal/smtpsink) acting as
// receiving MX hosts or smarthosts, set up by options.

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
)

// sinkOption sets up a sink.
type sinkOption func(*smtpsink.Config)

// withTLS offers STARTTLS with cert.
func withTLS(cert tls.Certificate) sinkOption {
	return func(c *smtpsink.Config) { c.TLS = &tls.Config{Certificates: []tls.Certificate{cert}} }
}

// withTLSIf offers STARTTLS with cert when there is one, and no STARTTLS
// when cert is nil.
func withTLSIf(cert *tls.Certificate) sinkOption {
	return func(c *smtpsink.Config) {
		if cert != nil {
			withTLS(*cert)(c)
		}
	}
}

// withAuth offers the SASL mechanisms mechs, accepting users.
func withAuth(mechs []string, users map[string]string) sinkOption {
	return func(c *smtpsink.Config) { c.AuthMechs, c.Users = mechs, users }
}

// withUTF8 advertises SMTPUTF8.
func withUTF8() sinkOption { return func(c *smtpsink.Config) { c.SMTPUTF8 = true } }

// withReply answers as r does.
func withReply(r smtpsink.Replier) sinkOption { return func(c *smtpsink.Config) { c.Reply = r } }

// serveSink starts a sink on ln (plain or implicit TLS, as ln is) until
// the test ends.
func serveSink(t testing.TB, ln net.Listener, opts ...sinkOption) *smtpsink.Sink {
	cfg := smtpsink.Config{
		Timeout: 10 * time.Second,
		// So the "no STARTTLS" test can see whether AUTH is tried.
		AuthWithoutTLS: true,
	}
	for _, o := range opts {
		o(&cfg)
	}
	return testkit.ServeSink(t, ln, cfg)
}

// withREQUIRETLS advertises REQUIRETLS after STARTTLS (RFC 8689).
func withREQUIRETLS() sinkOption { return func(c *smtpsink.Config) { c.REQUIRETLS = true } }
