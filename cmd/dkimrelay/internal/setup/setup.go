// Package setup creates a relay's first configuration: `dkimrelay init`
// for a real domain, and the try-out relay that runs when no configuration
// exists.
package setup

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"dkimrelay/config"
	"dkimrelay/internal/selfsigned"
	"dkimrelay/keys"
)

// ConfigName is the config file's name inside the init folder.
const ConfigName = "dkimrelay.toml"

// Options are init's inputs.
type Options struct {
	Dir       string // where dkimrelay.toml goes
	Domain    string
	Hostname  string // default mail.DOMAIN
	Listen    string // STARTTLS listener, default 127.0.0.1:587
	ListenTLS string // implicit TLS listener, optional
	// MetricsListen is metrics.listen (the status page, /metrics and
	// /healthz); optional.
	MetricsListen string
	Algorithm     keys.Algorithm
	// LogFile is log.file; init's default is "dkimrelay.log", and "-"
	// means stderr.
	LogFile string
	// Outbox, when set, makes delivery write each message to a file in
	// this folder (relative to Dir) instead of sending it: the try-out.
	Outbox string
	Now    time.Time
}

// Result is what init made.
type Result struct {
	ConfigPath string
	Config     *config.Config
	Key        *keys.Key
	CertMade   bool
}

var configTemplate = template.Must(template.New("config").Parse(`# dkimrelay configuration, written by ` + "`dkimrelay init`" + `.
# Every key is described in the README. Relative paths are relative to this file.

hostname = "{{.Hostname}}"         # EHLO name and Message-ID fallback domain
data_dir = "data"                  # queue, keys, logins, control socket

[submission]
listen = [{{.Listen}}]             # plaintext listeners that offer STARTTLS
listen_tls = [{{.ListenTLS}}]      # implicit-TLS listeners (port 465 style)
tls_cert = "tls/cert.pem"
tls_key = "tls/key.pem"
allow_insecure_auth = false
max_message_size = 26214400
max_recipients = 100

[[domains]]
name = "{{.Domain}}"

[delivery]
{{if .Outbox}}mode = "outbox"                    # the try-out: each message becomes a file in outbox, nothing leaves
outbox = "{{.Outbox}}"
{{else}}mode = "mx"                        # "mx", or "smarthost" when outbound port 25 is blocked
{{end}}port = 25
smarthost = ""                     # host:port in smarthost mode
smarthost_user = ""
smarthost_password_file = ""
egress_ips = []                    # addresses mail leaves from; empty: detect
spf_policy = "reject"              # "reject" | "warn" | "off"
max_lifetime = "120h"              # then bounce

[dns]
servers = []                       # empty: system resolver

[keys]
retire_after = "168h"              # a retired key's record stays published this long
rotate_after = "2160h"             # ` + "`keys rotate`" + ` starts a new key when the active one is this old

[log]
file = "{{.LogFile}}"             # JSON lines; empty: stderr

[metrics]
listen = "{{.Metrics}}"                        # e.g. "127.0.0.1:9187": the status page /, /metrics, /healthz
password_file = ""                 # a 0600 file: HTTP basic auth on all but /healthz (set it when listen is not loopback)
`))

func quoteList(s ...string) string {
	var q []string
	for _, v := range s {
		if v != "" {
			q = append(q, fmt.Sprintf("%q", v))
		}
	}
	return strings.Join(q, ", ")
}

// Init writes a config, a data dir, a self-signed certificate and a first
// DKIM key (pending: it signs only once its record is published and
// activated). It refuses to overwrite an existing config.
func Init(o Options) (*Result, error) {
	o.Domain = strings.ToLower(strings.TrimSuffix(o.Domain, "."))
	if o.Domain == "" {
		return nil, errors.New("--domain is required: the domain your application sends from, such as example.org")
	}
	if o.Hostname == "" {
		o.Hostname = "mail." + o.Domain
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:587"
	}
	if o.Algorithm == "" {
		o.Algorithm = keys.RSA2048
	}
	switch o.LogFile {
	case "":
		o.LogFile = "dkimrelay.log"
	case "-":
		o.LogFile = ""
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	path, err := filepath.Abs(filepath.Join(o.Dir, ConfigName))
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("%s already exists: init never overwrites a config; edit it, or init into another --dir", path)
	}
	var buf bytes.Buffer
	if err := configTemplate.Execute(&buf, map[string]string{
		"Hostname": o.Hostname, "Domain": o.Domain,
		"Listen": quoteList(o.Listen), "ListenTLS": quoteList(o.ListenTLS), "LogFile": o.LogFile,
		"Outbox": o.Outbox, "Metrics": o.MetricsListen,
	}); err != nil {
		return nil, err
	}
	// Validate before writing anything: a bad --listen or --domain must
	// not leave a half-made setup behind.
	cfg, err := config.Parse(path, buf.Bytes())
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	res := &Result{ConfigPath: path, Config: cfg}
	if _, err := os.Stat(cfg.Submission.TLSCert); errors.Is(err, os.ErrNotExist) {
		if err := selfsigned.Write(cfg.Submission.TLSCert, cfg.Submission.TLSKey, o.Hostname); err != nil {
			return nil, err
		}
		res.CertMade = true
	}
	store, err := keys.Open(cfg.KeysDir())
	if err != nil {
		return nil, err
	}
	if res.Key, err = store.Generate(o.Domain, o.Algorithm, "", o.Now); err != nil {
		return nil, err
	}
	// The config goes last and exclusively: a second init racing this
	// one cannot overwrite it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("writing config: %w", err)
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return res, f.Close()
}

// WriteSummary prints what the administrator does next: the DNS records to
// publish and the Mastodon settings.
func (r *Result) WriteSummary(w io.Writer) error {
	zone, err := r.Key.Zone()
	if err != nil {
		return err
	}
	cfg := r.Config
	d := r.Key.Domain
	host, port, _ := net.SplitHostPort(cfg.Submission.Listen[0])
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		host = cfg.Hostname
	}
	fmt.Fprintf(w, `Wrote %s
DKIM key %s (%s) for %s is pending: it signs nothing until its record is published.

1. Publish these DNS records for %s:

%s
%s.  IN TXT "v=spf1 mx -all"      ; or list your egress IPs: "v=spf1 ip4:ADDRESS -all"
_dmarc.%s.  IN TXT "v=DMARC1; p=none; rua=mailto:postmaster@%s"

2. Once the DKIM record is visible, activate the key:

   dkimrelay --config %s keys activate --domain %s --selector %s

3. Add a login for your application (the password is read from stdin, or use --generate):

   dkimrelay --config %s users add mastodon --allow notifications@%s --generate

4. Start the relay:

   dkimrelay --config %s serve

5. Mastodon's .env.production:

   SMTP_SERVER=%s
   SMTP_PORT=%s
   SMTP_LOGIN=mastodon
   SMTP_PASSWORD=<the password from step 3>
   SMTP_AUTH_METHOD=plain
   SMTP_ENABLE_STARTTLS=auto
   SMTP_OPENSSL_VERIFY_MODE=%s
   SMTP_FROM_ADDRESS=notifications@%s
`, r.ConfigPath, r.Key.Selector, r.Key.Algorithm, d, d, zone, d, d, d,
		r.ConfigPath, d, r.Key.Selector, r.ConfigPath, d, r.ConfigPath,
		host, port, verifyMode(r.CertMade), d)
	return nil
}

func verifyMode(selfSigned bool) string {
	if selfSigned {
		return "none    # the certificate is self-signed; use peer with a real one"
	}
	return "peer"
}
