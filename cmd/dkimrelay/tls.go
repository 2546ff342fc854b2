package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"dkimrelay/config"
	"dkimrelay/internal/tlsroots"
	"dkimrelay/mtasts"
	"dkimrelay/relay/delivery"
)

// runTLS shows what delivery to a domain requires now and why.
func runTLS(e *env, args []string) error {
	fs := newFlags(e, "tls")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	domain := strings.ToLower(strings.TrimSuffix(pos[0], "."))
	cfg, err := config.Load(e.configPath)
	if err != nil {
		return err
	}
	if cfg.Delivery.Mode != config.ModeMX {
		fmt.Fprintf(e.stdout, "delivery.mode = %q: mail to %s does not go to its MX hosts", cfg.Delivery.Mode, domain)
		if cfg.Delivery.Mode == config.ModeSmarthost {
			fmt.Fprintf(e.stdout, " but to the smarthost %s, over TLS with its certificate verified (tls_policy smarthost)", cfg.Delivery.Smarthost)
		}
		fmt.Fprintln(e.stdout)
		return nil
	}
	res, err := newResolver(cfg)
	if err != nil {
		return err
	}
	roots, err := tlsroots.Load(cfg.Delivery.TLSCAFile)
	if err != nil {
		return err
	}
	dc := delivery.Config{Delivery: cfg.Delivery, Hostname: cfg.Hostname, Resolver: res, RootCAs: roots}
	if cfg.Delivery.DANE {
		dc.DANEResolver = res
	}
	if cfg.Delivery.MTASTS {
		// The relay's kept policies are read, never written: this
		// command may run as another user than the relay.
		dc.STSPolicies, err = mtasts.New(mtasts.Options{Dir: filepath.Join(cfg.DataDir, "mta-sts"), ReadOnly: true,
			Resolver: res, RootCAs: roots, Port: cfg.Delivery.MTASTSPort})
		if err != nil {
			return err
		}
	}
	d, err := delivery.New(dc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ex := d.Explain(ctx, domain)
	if *asJSON {
		return printJSON(e.stdout, ex)
	}
	writeExplanation(e.stdout, ex)
	return nil
}

func writeExplanation(w io.Writer, ex delivery.Explanation) {
	fmt.Fprintf(w, "%s\n", ex.Domain)
	f := ex.MTASTS
	switch {
	case !f.Enabled:
		fmt.Fprintf(w, "  MTA-STS: not honoured (delivery.mta_sts = false)\n")
	case f.Mode == "":
		fmt.Fprintf(w, "  MTA-STS: no policy (%s)\n", f.Problem)
	default:
		fmt.Fprintf(w, "  MTA-STS: mode %s, mx %s, max_age %ds\n", f.Mode, strings.Join(f.MX, ", "), f.MaxAge)
		fmt.Fprintf(w, "    id %s, fetched %s from %s, expires %s (%s)\n", f.ID,
			f.Fetched.UTC().Format(time.RFC3339), f.URL, f.Expires.UTC().Format(time.RFC3339), f.Source)
		if f.Problem != "" {
			fmt.Fprintf(w, "    the kept policy applies: %s\n", f.Problem)
		}
		for _, line := range strings.Split(strings.TrimSpace(f.Text), "\n") {
			fmt.Fprintf(w, "    | %s\n", strings.TrimRight(line, "\r"))
		}
	}
	if ex.Listed {
		fmt.Fprintf(w, "  delivery.require_tls_domains lists it: verified TLS or nothing\n")
	}
	if ex.Route != "" {
		fmt.Fprintf(w, "  no MX host to try: %s\n", ex.Route)
		return
	}
	fmt.Fprintf(w, "  MX hosts, in the order tried:\n")
	for _, h := range ex.Hosts {
		fmt.Fprintf(w, "    %s  tls_policy %s\n      %s\n", h.Host, h.Policy, h.Requires)
		if h.DANE != "" {
			fmt.Fprintf(w, "      DANE: %s\n", h.DANE)
		}
		for _, r := range h.TLSA {
			fmt.Fprintf(w, "      TLSA %s\n", r)
		}
	}
}
