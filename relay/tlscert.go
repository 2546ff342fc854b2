package relay

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"
)

// certLoader serves the submission certificate and reloads it when the
// files change, so a renewed certificate (certbot, acme.sh) takes effect
// without a restart. It checks the files at most every few seconds; a
// broken renewal keeps the last good certificate and says why in the log.
type certLoader struct {
	certFile, keyFile string
	onError           func(error)

	mu      sync.Mutex
	cert    *tls.Certificate
	mtime   time.Time
	checked time.Time
}

const certRecheck = 5 * time.Second

func newCertLoader(certFile, keyFile string, onError func(error)) (*certLoader, error) {
	l := &certLoader{certFile: certFile, keyFile: keyFile, onError: onError}
	if err := l.load(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *certLoader) stamp() (time.Time, error) {
	var latest time.Time
	for _, f := range []string{l.certFile, l.keyFile} {
		st, err := os.Stat(f)
		if err != nil {
			return time.Time{}, err
		}
		if st.ModTime().After(latest) {
			latest = st.ModTime()
		}
	}
	return latest, nil
}

func (l *certLoader) load() error {
	mt, err := l.stamp()
	if err != nil {
		return fmt.Errorf("TLS certificate: %w", err)
	}
	c, err := tls.LoadX509KeyPair(l.certFile, l.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s / key %s: %w", l.certFile, l.keyFile, err)
	}
	l.cert, l.mtime, l.checked = &c, mt, time.Now()
	return nil
}

func (l *certLoader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.checked) > certRecheck {
		l.checked = time.Now()
		if mt, err := l.stamp(); err == nil && !mt.Equal(l.mtime) {
			if err := l.load(); err != nil && l.onError != nil {
				l.onError(err)
			}
		}
	}
	return l.cert, nil
}

// tlsConfig is the submission TLS configuration: TLS 1.2 or newer (RFC 8996
// deprecates 1.0 and 1.1) with the standard library's default suites.
func (l *certLoader) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: l.getCertificate,
	}
}
