package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"dkimrelay/config"
	"dkimrelay/events"
	"dkimrelay/keys"
	"dkimrelay/keys/publish"
)

func openKeys(e *env) (*config.Config, *keys.Store, error) {
	cfg, err := config.Load(e.configPath)
	if err != nil {
		return nil, nil, err
	}
	st, err := keys.Open(cfg.KeysDir())
	if err != nil {
		return nil, nil, err
	}
	return cfg, st, nil
}

// openKeysPublishing is openKeys for a command with --publish: when pub
// is set, it also makes the [keys.publish] updater, before anything
// changes, so that a broken [keys.publish] leaves no key behind.
func openKeysPublishing(e *env, pub bool) (*config.Config, *keys.Store, *publish.Updater, error) {
	cfg, st, err := openKeys(e)
	if err != nil || !pub {
		return cfg, st, nil, err
	}
	up, err := newUpdater(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, st, up, nil
}

// listKeys lists the store's keys, warning on standard error about each
// key file it could not read.
func listKeys(e *env, st *keys.Store) []*keys.Key {
	list, errs := st.List()
	for _, err := range errs {
		fmt.Fprintln(e.stderr, "warning:", err)
	}
	return list
}

// warnUnconfigured warns that domain's keys will not sign until the
// config lists the domain.
func warnUnconfigured(e *env, cfg *config.Config, domain string) {
	if !cfg.HasDomain(domain) {
		fmt.Fprintf(e.stderr, "warning: %s is not in the config's [[domains]]; the relay will not sign for it until it is added\n", domain)
	}
}

func runKeysGenerate(e *env, args []string) error {
	fs := newFlags(e, "keys generate")
	domain := fs.String("domain", "", "domain the key signs for")
	alg := fs.String("algorithm", string(keys.RSA2048), "rsa2048, rsa3072, rsa4096 or ed25519")
	sel := fs.String("selector", "", "selector (default: derived from the date and algorithm)")
	pub := fs.Bool("publish", false, "publish the record by dynamic DNS update ([keys.publish])")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *domain == "" {
		return usagef("keys generate needs --domain")
	}
	a, err := keys.ParseAlgorithm(*alg)
	if err != nil {
		return usagef("%v", err)
	}
	cfg, st, up, err := openKeysPublishing(e, *pub)
	if err != nil {
		return err
	}
	warnUnconfigured(e, cfg, *domain)
	k, err := st.Generate(*domain, a, *sel, time.Now())
	if err != nil {
		return err
	}
	zone, err := k.Zone()
	if err != nil {
		return err
	}
	if up != nil {
		if err := publishKey(up, k); err != nil {
			fmt.Fprintf(e.stdout, "Generated %s key %s for %s (pending), but publishing its DNS record failed. Publish it by hand, or let `dkimrelay keys rotate --domain %s --publish` do it:\n\n%s\n",
				k.Algorithm, k.Selector, k.Domain, k.Domain, zone)
			return err
		}
		fmt.Fprintf(e.stdout, "Generated %s key %s for %s (pending) and published its DNS record at %s:\n\n%s\n\nOnce DNS serves it, run `dkimrelay keys activate --domain %s --selector %s`.\n",
			k.Algorithm, k.Selector, k.Domain, up.Server(), zone, k.Domain, k.Selector)
		notifyRelay(e, cfg)
		return nil
	}
	fmt.Fprintf(e.stdout, "Generated %s key %s for %s (pending).\nPublish this DNS record, then run `dkimrelay keys activate --domain %s --selector %s`:\n\n%s\n",
		k.Algorithm, k.Selector, k.Domain, k.Domain, k.Selector, zone)
	notifyRelay(e, cfg)
	return nil
}

type keyJSON struct {
	Domain         string     `json:"domain"`
	Selector       string     `json:"selector"`
	Algorithm      string     `json:"algorithm"`
	State          string     `json:"state"`
	Created        time.Time  `json:"created"`
	Activated      *time.Time `json:"activated,omitempty"`
	Retired        *time.Time `json:"retired,omitempty"`
	RemovableAfter *time.Time `json:"removable_after,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func runKeysList(e *env, args []string) error {
	fs := newFlags(e, "keys list")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	cfg, st, err := openKeys(e)
	if err != nil {
		return err
	}
	list, errs := st.List()
	for _, err := range errs {
		fmt.Fprintln(e.stderr, "warning:", err)
	}
	out := make([]keyJSON, 0, len(list))
	for _, k := range list {
		j := keyJSON{Domain: k.Domain, Selector: k.Selector, Algorithm: string(k.Algorithm), State: string(k.State),
			Created: k.Created, Activated: timePtr(k.Activated), Retired: timePtr(k.Retired)}
		if k.State == keys.Retiring {
			j.RemovableAfter = timePtr(k.RemovableAfter(cfg.Keys.RetireAfter))
		}
		out = append(out, j)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DOMAIN\tSELECTOR\tALGORITHM\tSTATE\tCREATED\tACTIVATED\tRETIRED\tDNS RECORD REMOVABLE AFTER")
	day := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04")
	}
	for _, j := range out {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.Domain, j.Selector, j.Algorithm, j.State,
			day(&j.Created), day(j.Activated), day(j.Retired), day(j.RemovableAfter))
	}
	tw.Flush()
	if len(errs) > 0 {
		return fmt.Errorf("%d key file(s) are damaged; see the warnings above", len(errs))
	}
	return nil
}

func runKeysDNS(e *env, args []string) error {
	fs := newFlags(e, "keys dns")
	domain := fs.String("domain", "", "domain")
	sel := fs.String("selector", "", "only this selector")
	value := fs.Bool("value", false, "print only the record value")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *domain == "" {
		return usagef("keys dns needs --domain")
	}
	_, st, err := openKeys(e)
	if err != nil {
		return err
	}
	list := listKeys(e, st)
	n := 0
	for _, k := range list {
		if !sameDomain(k.Domain, *domain) || (*sel != "" && k.Selector != *sel) {
			continue
		}
		n++
		var s string
		if *value {
			s, err = k.RecordValue()
		} else {
			s, err = k.Zone()
		}
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, s)
	}
	if n == 0 {
		if *sel != "" {
			return fmt.Errorf("no key %s for %s: see `dkimrelay keys list`", *sel, *domain)
		}
		return fmt.Errorf("no keys for %s: make one with `dkimrelay keys generate --domain %s`", *domain, *domain)
	}
	return nil
}

func runKeysActivate(e *env, args []string) error {
	fs := newFlags(e, "keys activate")
	domain := fs.String("domain", "", "domain")
	sel := fs.String("selector", "", "selector")
	force := fs.Bool("force", false, "activate even if DNS does not publish the key")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *domain == "" || *sel == "" {
		return usagef("keys activate needs --domain and --selector")
	}
	cfg, st, err := openKeys(e)
	if err != nil {
		return err
	}
	k, err := st.Get(*domain, *sel)
	if err != nil {
		return err
	}
	res, err := newResolver(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	check := keys.CheckPublished(ctx, res.LookupTXT, k)
	if check.State != keys.Published {
		if !*force {
			return fmt.Errorf("not activating %s for %s: %s (signing with an unpublished key makes every message fail DKIM; --force overrides)", k.Selector, k.Domain, check.Detail)
		}
		fmt.Fprintf(e.stderr, "warning: activating despite DNS: %s\n", check.Detail)
		logEvent(cfg, events.KeyForceActivated, events.DomainKey, k.Domain, events.SelectorKey, k.Selector, events.DNSKey, string(check.State))
	}
	k, retired, err := st.Activate(*domain, *sel, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Activated %s (%s) for %s.\n", k.Selector, k.Algorithm, k.Domain)
	for _, r := range retired {
		fmt.Fprintf(e.stdout, "Retiring %s: keep its DNS record until %s (keys.retire_after), then run `dkimrelay keys prune`.\n",
			r.Selector, r.RemovableAfter(cfg.Keys.RetireAfter).UTC().Format(time.RFC3339))
	}
	notifyRelay(e, cfg)
	return nil
}

// logEvent appends one event to the relay's log, for actions an auditor
// wants to see beside the relay's own (a forced activation).
func logEvent(cfg *config.Config, msg string, attrs ...any) {
	log, lf, err := events.OpenLog(cfg.Log.File, cfg.Log.Level)
	if err != nil {
		return
	}
	defer lf.Close()
	log.Warn(msg, append(attrs, events.SourceKey, "cli")...)
}
