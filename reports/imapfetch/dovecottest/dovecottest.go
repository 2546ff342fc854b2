// Package dovecottest runs a throwaway Dovecot IMAP server for tests: its
// own configuration, TLS certificate from a test CA, mailboxes and logs in a
// temporary folder, listening on loopback ports, run without privileges
// (as the test's user, or as nobody when the test runs as root).
package dovecottest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"dkimrelay/internal/testkit"
)

// Package is the Debian package that provides the server.
const Package = "dovecot-imapd"

// Server is a running Dovecot.
type Server struct {
	// TLSAddr is the implicit-TLS listener, PlainAddr the one that offers
	// STARTTLS, both "localhost:port" (the certificate's name; Dovecot
	// listens on 127.0.0.1).
	TLSAddr, PlainAddr string
	// CAFile is the PEM file of the CA that issued the server's
	// certificate (for "localhost").
	CAFile string
	// Dir holds the configuration, the mail and the log.
	Dir string

	logs testkit.Output
}

// Start runs Dovecot with the given logins (name: password) and stops it
// when the test ends.
func Start(t testing.TB, logins map[string]string) *Server {
	t.Helper()
	bin, err := testkit.ServerBinary("dovecot", Package)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Dir: t.TempDir()}
	uid, gid, name := os.Getuid(), os.Getgid(), ""
	var cred *syscall.Credential
	if uid == 0 {
		// Dovecot refuses mail access as root; run all of it as nobody.
		u, err := user.Lookup("nobody")
		if err != nil {
			t.Fatalf("dovecottest: %v", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		name = u.Username
	} else {
		t.Fatalf("dovecottest: the user %d has no name: %v", uid, err)
	}
	group := name
	if g, err := user.LookupGroupId(strconv.Itoa(gid)); err == nil {
		group = g.Name
	}

	ca := testkit.NewCA(t)
	cert := ca.Issue(t, "localhost")
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	var certPEM []byte
	for _, der := range cert.Certificate {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	var passwd bytes.Buffer
	for login, pw := range logins {
		fmt.Fprintf(&passwd, "%s:{PLAIN}%s::::::\n", login, pw)
	}
	tlsPort, plainPort := testkit.FreePort(t, "127.0.0.1"), testkit.FreePort(t, "127.0.0.1")
	s.TLSAddr = net.JoinHostPort("localhost", tlsPort)
	s.PlainAddr = net.JoinHostPort("localhost", plainPort)
	s.CAFile = filepath.Join(s.Dir, "ca.pem")
	conf := fmt.Sprintf(config, s.Dir, name, group, uid, gid, plainPort, tlsPort)
	files := map[string][]byte{
		"ca.pem":       ca.PEM(),
		"cert.pem":     certPEM,
		"key.pem":      pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		"passwd":       passwd.Bytes(),
		"dovecot.conf": []byte(conf),
	}
	for _, d := range []string{"run", "state", "mail"} {
		if err := os.Mkdir(filepath.Join(s.Dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(s.Dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if cred != nil {
		// The folder and everything in it belong to nobody; the path to
		// it must be traversable.
		filepath.Walk(s.Dir, func(p string, _ os.FileInfo, _ error) error { return os.Lchown(p, uid, gid) })
		// Only the test's own folders below the temporary folder are
		// opened; the temporary folder itself must let others pass.
		tmp := filepath.Clean(os.TempDir())
		for d := filepath.Dir(s.Dir); strings.HasPrefix(d, tmp+"/"); d = filepath.Dir(d) {
			if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o001 == 0 {
				os.Chmod(d, fi.Mode().Perm()|0o111)
			}
		}
		if fi, err := os.Stat(tmp); err != nil || fi.Mode().Perm()&0o001 == 0 {
			t.Fatalf("dovecottest: Dovecot runs as nobody and cannot reach %s: point TMPDIR at a folder others may pass through (like /tmp)", tmp)
		}
	}

	cmd := exec.Command(bin, "-F", "-c", filepath.Join(s.Dir, "dovecot.conf"))
	cmd.Stdout, cmd.Stderr = &s.logs, &s.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	p := testkit.StartDaemon(t, "dovecot", cmd, s.Logs)
	if err := s.waitReady(p.Exited(), &tls.Config{ServerName: "localhost", RootCAs: ca.Pool()}); err != nil {
		t.Fatalf("dovecottest: %v\ndovecot log:\n%s", err, s.Logs())
	}
	return s
}

// config is the throwaway configuration: folder, user, group, uid, gid,
// STARTTLS port, TLS port. Every login process runs unchrooted as the
// one user, which is what lets Dovecot run without root.
const config = `base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = imap
listen = 127.0.0.1
default_login_user = %[2]s
default_internal_user = %[2]s
default_internal_group = %[3]s
first_valid_uid = %[4]d
last_valid_uid = %[4]d
first_valid_gid = 0
ssl = required
ssl_cert = <%[1]s/cert.pem
ssl_key = <%[1]s/key.pem
ssl_min_protocol = TLSv1.2
auth_mechanisms = plain login
mail_location = maildir:%[1]s/mail/%%u
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/passwd
}
userdb {
  driver = static
  args = uid=%[4]d gid=%[5]d home=%[1]s/mail/%%u
}
service imap-login {
  chroot =
  user = %[2]s
  inet_listener imap {
    address = 127.0.0.1
    port = %[6]s
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = %[7]s
    ssl = yes
  }
}
service anvil {
  chroot =
}
service stats {
  user = %[2]s
}
service auth {
  user = %[2]s
}
service auth-worker {
  user = %[2]s
}
`

// waitReady waits until the TLS listener greets.
func (s *Server) waitReady(exited <-chan struct{}, tc *tls.Config) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("dovecot exited at start")
		default:
		}
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", s.TLSAddr, tc)
		if err == nil {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 64)
			n, _ := c.Read(buf)
			c.Close()
			if bytes.HasPrefix(buf[:n], []byte("* OK")) {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("dovecot did not answer on %s within 20s", s.TLSAddr)
}

// Logs is what Dovecot has written to its output and its log file.
func (s *Server) Logs() string {
	out := s.logs.String()
	b, _ := os.ReadFile(filepath.Join(s.Dir, "dovecot.log"))
	return out + string(b)
}
