// Package imapfetch polls a mailbox over IMAP (RFC 3501) for the DMARC and
// TLS reports delivered to it, and imports them, while the relay runs.
//
// Each poll logs in over TLS, selects the folder and reads the messages
// not marked \Seen. A message holding a report is marked \Seen once every
// report in it is stored, then moved to the processed folder when one is
// configured (MOVE, RFC 6851, or COPY and expunge where the server lacks
// it). A message holding none is marked \Seen and left where it is, for a
// person to look at. A message whose reports could not be stored stays
// unseen and is read again at the next poll; the store keeps each report
// once, so reading a message twice does no harm.
package imapfetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"dkimrelay/config"
	"dkimrelay/events"
	"dkimrelay/internal/secretfile"
	"dkimrelay/reports/importer"
	"dkimrelay/reports/store"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/client"
)

// Fetcher polls one mailbox.
type Fetcher struct {
	cfg      config.ReportsIMAP
	password string
	tls      *tls.Config
	im       *importer.Importer
	log      *slog.Logger
	name     string
	// Timeout bounds each IMAP command.
	Timeout time.Duration
}

// New makes a fetcher from the [reports.imap] config, reading the password
// file (which must be mode 0600) and the CA file now, so that a mistake
// stops the start instead of every poll.
func New(cfg config.ReportsIMAP, st store.Store, log *slog.Logger) (*Fetcher, error) {
	if !cfg.Enabled() {
		return nil, errors.New("reports.imap.server is not set")
	}
	pw, err := secretfile.ReadPassword(cfg.PasswordFile)
	if err != nil {
		return nil, fmt.Errorf("reports.imap.password_file: %w", err)
	}
	host, _, err := net.SplitHostPort(cfg.Server)
	if err != nil {
		return nil, fmt.Errorf("reports.imap.server: %w", err)
	}
	tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if cfg.TLSCAFile != "" {
		pem, err := os.ReadFile(cfg.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("reports.imap.tls_ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("reports.imap.tls_ca_file: %s holds no PEM certificate", cfg.TLSCAFile)
		}
		tc.RootCAs = pool
	}
	return &Fetcher{
		cfg: cfg, password: pw, tls: tc, im: importer.New(st), log: log,
		name: cfg.User + "@" + cfg.Server + "/" + cfg.Folder, Timeout: time.Minute,
	}, nil
}

// Run polls at once and then every poll interval until ctx is done. A
// failed poll is logged and the next one tries again.
func (f *Fetcher) Run(ctx context.Context) {
	t := time.NewTicker(f.cfg.PollInterval)
	defer t.Stop()
	for {
		if _, err := f.Poll(ctx); err != nil && ctx.Err() == nil {
			events.ReportsFetchFailure{Mailbox: f.name, Reason: err.Error()}.Log(f.log)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Stats count what one poll did.
type Stats struct {
	// Messages read, reports found in them, messages holding none.
	Messages, Reports, Skipped int
}

// Poll reads the mailbox once.
func (f *Fetcher) Poll(ctx context.Context) (Stats, error) {
	c, err := f.connect(ctx)
	if err != nil {
		return Stats{}, err
	}
	defer c.Logout()
	stop := context.AfterFunc(ctx, func() { c.Terminate() })
	defer stop()

	if _, err := c.Select(f.cfg.Folder, false); err != nil {
		return Stats{}, fmt.Errorf("selecting folder %q: %w (check reports.imap.folder)", f.cfg.Folder, err)
	}
	crit := imap.NewSearchCriteria()
	crit.WithoutFlags = []string{imap.SeenFlag, imap.DeletedFlag}
	uids, err := c.UidSearch(crit)
	if err != nil {
		return Stats{}, fmt.Errorf("searching folder %q: %w", f.cfg.Folder, err)
	}
	size, err := sizes(c, uids)
	if err != nil {
		return Stats{}, err
	}
	var st Stats
	var imported, skipped []uint32
	for _, uid := range uids {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		n, ok, err := f.message(ctx, c, uid, size[uid])
		if err != nil {
			return st, err
		}
		st.Messages++
		st.Reports += n
		if ok {
			imported = append(imported, uid)
		} else {
			st.Skipped++
			skipped = append(skipped, uid)
		}
	}
	if err := f.markSeen(c, append(imported, skipped...)); err != nil {
		return st, err
	}
	if f.cfg.ProcessedFolder != "" && len(imported) > 0 {
		if err := f.move(c, imported); err != nil {
			return st, err
		}
	}
	return st, nil
}

func (f *Fetcher) connect(ctx context.Context) (*client.Client, error) {
	d := &net.Dialer{Timeout: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", f.cfg.Server)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", f.cfg.Server, err)
	}
	// The greeting and the TLS handshake come before the client's own
	// per-command timeout applies: a server that accepts and says
	// nothing must not hold the poller.
	conn.SetDeadline(time.Now().Add(f.Timeout))
	var c *client.Client
	if f.cfg.StartTLS {
		c, err = client.New(conn)
		if err == nil {
			c.Timeout = f.Timeout
			err = c.StartTLS(f.tls)
		}
	} else {
		tc := tls.Client(conn, f.tls)
		if err = tc.HandshakeContext(ctx); err == nil {
			c, err = client.New(tc)
		}
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("TLS with %s: %w (check reports.imap.server, starttls and tls_ca_file)", f.cfg.Server, err)
	}
	c.Timeout = f.Timeout
	c.ErrorLog = discard{}
	if err := c.Login(f.cfg.User, f.password); err != nil {
		c.Logout()
		return nil, fmt.Errorf("logging in to %s as %s: %w (check reports.imap.user and the password file)", f.cfg.Server, f.cfg.User, err)
	}
	return c, nil
}

// discard drops go-imap's own error log: failures come back as errors
// and are logged as events.
type discard struct{}

func (discard) Printf(string, ...any) {}
func (discard) Println(...any)        {}
