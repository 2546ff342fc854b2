package submission

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"syscall"

	"dkimrelay/internal/secretfile"
)

// Certificates serves the submission certificate and reloads it when the
// files change, so a renewed certificate (certbot, acme.sh) takes effect
// without a restart. Each handshake looks at the two files' stat data (two
// stat(2) calls, far cheaper than the handshake itself), so a renewal is
// seen by the very next client. A broken renewal keeps the last good
// certificate and says why in the log, once per change of the files.
type Certificates struct {
	certFile, keyFile string
	onError           func(error)

	mu   sync.Mutex
	cert *tls.Certificate
	seen fileStamp // the files as last tried, loaded or not
}

// fileStamp identifies a version of the certificate and key files. The
// inode catches a replacement by rename (what ACME clients do) even within
// the file system's time granularity; size and time catch a rewrite in
// place; the mode catches the chmod that fixes a refused key.
type fileStamp [2]struct {
	mtime int64 // nanoseconds
	size  int64
	mode  os.FileMode
	ino   uint64
}

// LoadCertificates loads the certificate and key pair of [submission];
// onError hears of each later reload that fails (the last good pair stays).
func LoadCertificates(certFile, keyFile string, onError func(error)) (*Certificates, error) {
	l := &Certificates{certFile: certFile, keyFile: keyFile, onError: onError}
	st, err := l.stamp()
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	if err := l.load(st); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Certificates) stamp() (fileStamp, error) {
	var s fileStamp
	for i, f := range []string{l.certFile, l.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return s, err
		}
		s[i].mtime, s[i].size, s[i].mode = fi.ModTime().UnixNano(), fi.Size(), fi.Mode()
		if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
			s[i].ino = uint64(sys.Ino)
		}
	}
	return s, nil
}

// load reads the pair; st is the stamp taken just before.
func (l *Certificates) load(st fileStamp) error {
	l.seen = st
	if err := checkKeyFileMode(l.keyFile); err != nil {
		return err
	}
	c, err := tls.LoadX509KeyPair(l.certFile, l.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s / key %s: %w: check that the key belongs to the certificate", l.certFile, l.keyFile, err)
	}
	l.cert = &c
	return nil
}

// checkKeyFileMode refuses a private key others can read or change, like
// every secret file (internal/secretfile). A group-readable key stays
// allowed, because that is how distributions share certificates with
// services (Debian's ssl-cert group, mode 0640).
func checkKeyFileMode(path string) error {
	err := secretfile.CheckPath(path, secretfile.GroupRead)
	if secretfile.IsPermission(err) {
		return fmt.Errorf("TLS key %w, and replace the key if others may have copied it", err)
	}
	if err != nil {
		return fmt.Errorf("TLS key: %w", err)
	}
	return nil
}

func (l *Certificates) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st, err := l.stamp()
	if err != nil || st == l.seen {
		// Files missing for a moment (a renewal between its two
		// renames) or unchanged: serve what was loaded.
		return l.cert, nil
	}
	if err := l.load(st); err != nil && l.onError != nil {
		l.onError(err)
	}
	return l.cert, nil
}

// TLSConfig is the submission TLS configuration: TLS 1.2 or newer (RFC 8996
// deprecates 1.0 and 1.1) with the standard library's default suites.
func (l *Certificates) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: l.getCertificate,
	}
}
