package mtasts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"time"
)

// maxPolicySize bounds a policy file; real ones are a few hundred bytes
// (RFC 8461 section 3.3 leaves the limit to the sender).
const maxPolicySize = 64 << 10

// fetcher downloads policy files from https://mta-sts.DOMAIN/ (RFC 8461
// section 3.3): the certificate verified, no redirects, a size limit and a
// timeout; the host's address found through the relay's resolver.
type fetcher struct {
	client *http.Client
	port   int
}

func newFetcher(res Resolver, roots *x509.CertPool, port int, timeout time.Duration) *fetcher {
	dialer := &net.Dialer{Timeout: timeout}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		ips, err := res.LookupIPAddr(ctx, host)
		if err != nil {
			return nil, err
		}
		var lastErr error = fmt.Errorf("%s has no address", host)
		for _, ip := range ips {
			conn, err := dialer.DialContext(ctx, network, net.JoinHostPort(ip.IP.String(), port))
			if err == nil {
				return conn, nil
			}
			lastErr = err
		}
		return nil, lastErr
	}
	transport := &http.Transport{
		Proxy:                  nil, // straight to the policy host
		DialContext:            dial,
		TLSClientConfig:        &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		DisableKeepAlives:      true, // a domain's policy is fetched rarely
		MaxResponseHeaderBytes: 16 << 10,
	}
	return &fetcher{
		port: port,
		client: &http.Client{
			Transport: transport,
			Timeout:   timeout,
			// RFC 8461 section 3.3: redirects must not be followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// URL is where domain's policy file is.
func (f *fetcher) url(domain string) string {
	host := "mta-sts." + domain
	if f.port != 443 {
		host = net.JoinHostPort(host, strconv.Itoa(f.port))
	}
	return "https://" + host + "/.well-known/mta-sts.txt"
}

// fetch downloads and parses domain's policy; it returns the file's text
// too, as it is kept.
func (f *fetcher) fetch(ctx context.Context, domain string) (*Policy, string, error) {
	url := f.url(domain)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		var uerr interface{ Unwrap() error }
		if errors.As(err, &uerr) {
			err = uerr.Unwrap() // without Go's "Get URL:" prefix
		}
		return nil, "", fmt.Errorf("fetching %s: %w", url, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return nil, "", fmt.Errorf("fetching %s: redirected to %s, which MTA-STS does not follow (RFC 8461 section 3.3)", url, resp.Header.Get("Location"))
	case resp.StatusCode != http.StatusOK:
		return nil, "", fmt.Errorf("fetching %s: HTTP status %s", url, resp.Status)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "text/plain" {
		return nil, "", fmt.Errorf("fetching %s: content type %q, want text/plain (RFC 8461 section 3.2)", url, resp.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPolicySize+1))
	if err != nil {
		return nil, "", fmt.Errorf("fetching %s: %w", url, err)
	}
	if len(body) > maxPolicySize {
		return nil, "", fmt.Errorf("fetching %s: policy larger than %d bytes", url, maxPolicySize)
	}
	p, err := Parse(string(body))
	if err != nil {
		return nil, "", fmt.Errorf("policy at %s: %w", url, err)
	}
	return p, string(body), nil
}
