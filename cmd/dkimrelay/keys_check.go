package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"dkimrelay/config"
	"dkimrelay/keys"
	"dkimrelay/resolver"
)

// sameDomain compares a stored key's domain with one typed on the command
// line, which may differ in case or carry a final dot.
func sameDomain(stored, typed string) bool {
	return strings.EqualFold(stored, strings.TrimSuffix(typed, "."))
}

// newResolver is the relay's own resolver, so the CLI sees DNS as the
// relay (and dns.servers) does.
func newResolver(cfg *config.Config) (*resolver.Resolver, error) {
	return resolver.FromConfig(cfg.DNS)
}

type checkJSON struct {
	Domain    string `json:"domain"`
	Selector  string `json:"selector"`
	State     string `json:"state"`
	Algorithm string `json:"algorithm"`
	DNS       string `json:"dns"`
	Detail    string `json:"detail"`
}

func runKeysCheck(e *env, args []string) error {
	fs := newFlags(e, "keys check")
	domain := fs.String("domain", "", "domain whose pending and active keys are checked")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *domain == "" {
		return usagef("keys check needs --domain")
	}
	cfg, st, err := openKeys(e)
	if err != nil {
		return err
	}
	list, errs := st.List()
	var todo []*keys.Key
	for _, k := range list {
		if sameDomain(k.Domain, *domain) && (k.State == keys.Pending || k.State == keys.Active) {
			todo = append(todo, k)
		}
	}
	for _, err := range errs {
		fmt.Fprintln(e.stderr, "warning:", err)
	}
	if len(todo) == 0 {
		return fmt.Errorf("%s has no pending or active key to check: make one with `dkimrelay keys generate --domain %s`", *domain, *domain)
	}
	res, err := newResolver(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	results := keys.CheckAll(ctx, res.LookupTXT, todo)

	out := make([]checkJSON, len(results))
	bad, transient := 0, 0
	for i, r := range results {
		out[i] = checkJSON{r.Key.Domain, r.Key.Selector, string(r.Key.State), string(r.Key.Algorithm), string(r.State), r.Detail}
		if r.State != keys.Published {
			bad++
		}
		if r.State == keys.DNSError {
			transient++
		}
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SELECTOR\tSTATE\tALGORITHM\tDNS\tDETAIL")
		for _, j := range out {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", j.Selector, j.State, j.Algorithm, j.DNS, j.Detail)
		}
		tw.Flush()
	}
	if bad == 0 {
		return nil
	}
	which := fmt.Sprintf("%d of the %d keys of %s", bad, len(out), *domain)
	switch {
	case len(out) == 1:
		which = "the key of " + *domain
	case bad == len(out):
		which = fmt.Sprintf("all %d keys of %s", bad, *domain)
	}
	if bad == transient {
		return fmt.Errorf("DNS could not be asked about %s: try again later, and check dns.servers if it persists", which)
	}
	return fmt.Errorf("DNS does not publish %s as it should: fix the records as said above, then run `dkimrelay keys check --domain %s` again", which, *domain)
}
