package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"dkimrelay/authcheck"
	"dkimrelay/config"
	"dkimrelay/dnscheck"
	"dkimrelay/keys"
	"dkimrelay/logview"
)

func runCheck(e *env, args []string) error {
	fs := newFlags(e, "check")
	domain := fs.String("domain", "", "the domain the relay sends as")
	asJSON := fs.Bool("json", false, "print JSON")
	probeDomain := fs.String("probe-domain", dnscheck.DefaultProbeDomain, "test outbound port 25 against an MX of this domain")
	noProbe := fs.Bool("no-probe", false, "do not test outbound port 25")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *domain == "" {
		return usagef("check needs --domain")
	}
	d := strings.ToLower(strings.TrimSuffix(*domain, "."))
	cfg, err := config.Load(e.configPath)
	if err != nil {
		return err
	}
	if !cfg.HasDomain(d) {
		fmt.Fprintf(e.stderr, "warning: %s is not in the config's [[domains]]; the relay refuses its mail until it is added\n", d)
	}
	st, err := keys.Open(cfg.KeysDir())
	if err != nil {
		return err
	}
	list := listKeys(e, st)
	res, err := newResolver(cfg)
	if err != nil {
		return err
	}
	ips, note := authcheck.EgressIPs(cfg.Delivery.EgressIPs, cfg.Delivery.Mode)
	o := dnscheck.Options{
		Domain:     d,
		Hostname:   cfg.Hostname,
		Mode:       cfg.Delivery.Mode,
		EgressIPs:  ips,
		EgressNote: note,
		Keys:       list,
		Resolver:   res,
	}
	if !*noProbe {
		o.Probe = &dnscheck.Probe{Domain: *probeDomain, Port: cfg.Delivery.Port,
			Timeout: min(cfg.Delivery.ConnectTimeout, 15*time.Second)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if cfg.Log.File != "" {
		// The bulk sender list counts the recent bulk mail without
		// one-click unsubscribe; a log that cannot be read skips it.
		if c, err := logview.CountBulk(ctx, cfg.Log.File, time.Now().Add(-7*24*time.Hour)); err == nil {
			o.Bulk = &dnscheck.BulkMail{Since: "7 days", Messages: c.Messages, Missing: c.Missing}
		}
	}
	report := dnscheck.Run(ctx, o)
	if err := printReport(e, report, *asJSON); err != nil {
		return err
	}
	if report.Failed() {
		return fmt.Errorf("a required check of %s failed: publish the records shown above, wait for their TTL, and run `dkimrelay check --domain %s` again", d, d)
	}
	return nil
}
